"""The monitor: the ``GenerationMonitor`` façade and the parts it is built from.

Layer 2 is this folder's own modules: ``generation_monitor`` (the façade),
``settings`` (its keywords), ``runtime`` (builds and wires one monitor's
parts), ``services`` (Prometheus endpoint and pusher) and ``lifecycle``
(exit and fork hooks). They may import anything below them: handlers,
exporters, plots and the layer-4 subpackages.

Layer 4 is the subpackages, each owning one concern and importing only
``engine``, ``store`` and layer 5 (``genmon.records``, ``genmon.errors``):
``engine`` (queues, workers, lanes, isolation of user code), ``store``
(the rolling store and window statistics), ``alerts`` (rules, firing state,
the alert worker), ``tracking`` (spans, ``track``, ``attach``, usage and
cost, events) and ``resources`` (the psutil sampler and the profiler).
"""
