"""The engine: bounded queues, batch workers, pipelines, and the lanes that run user code in isolation.

Owns the record path's queue (``queueing``), the worker threads
(``workers``, ``pipeline``), how batches reach handlers (``delivery``), one
way to call user code with a timeout (``isolation``, ``watchdog``,
``callbacks``), periodic tasks and failure counts. Imports only layer 5
(``genmon.records``, ``genmon.errors``).
"""
