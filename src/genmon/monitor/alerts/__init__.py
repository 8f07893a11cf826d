"""Alerting: rules over rolling windows, their firing state, and the worker that delivers alerts.

``rules`` (``ThresholdRule``, ``NoDataRule``, afterimage's built-ins),
``state`` (fire once, remind after a cooldown, resolve) and ``manager``
(periodic passes, handler lanes, the log). Imports ``engine``, ``store``
and layer 5.
"""
