"""Records: what travels through genmon, and the checks made before anything is queued.

Layer 5, the bottom: the metric point, ``SpanRecord``, ``Alert`` and token
usage types (``types``, ``spans``), the validation every record call runs
in the caller's thread (``validation``), and the ISO-8601 time format of
every file (``timefmt``). It imports nothing else of genmon but ``errors``.
"""
