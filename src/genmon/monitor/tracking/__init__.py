"""Tracking: spans of tracked calls, ``attach``, token usage and cost, the points of a generation, events.

``track`` (``monitor.track`` and the span recorder), ``attach`` (one-line
monitoring of a generator), ``generation`` (the points ``track_generation``
records), ``usage`` (reading responses, prices), ``token_totals``,
``span_store`` (recent spans) and ``events`` (``monitor.on`` callbacks).
Imports ``engine``, ``store`` and layer 5.
"""
