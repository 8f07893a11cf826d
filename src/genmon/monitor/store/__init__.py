"""The store: per-metric columnar series in blocks, window statistics, and the read-only view readers get.

``metric_store`` (``MetricStore``, thread-safe, bounded), ``series`` (one
metric's blocks), ``window`` (statistics from block summaries),
``series_data`` (copies handed to readers) and ``view`` (the ``StoreView``
protocol exporters and plots take). Imports only layer 5.
"""
