"""Resources: the psutil sampler (``process/*``, ``system/*`` metrics) and the profiler.

Imports ``engine`` and layer 5; what they measure is recorded through a
callable the monitor passes in (its ``record_metrics``).
"""
