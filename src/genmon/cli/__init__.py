"""The ``genmon`` command (layer 1): demo, report, export, plot and tail, and reading finished runs.

``main`` parses the command line; ``commands``, ``demo`` and ``tail`` do
the work; ``run_files`` reads run directories back; ``run_report``
rebuilds exports, charts and report.html from them. It may import
anything in genmon; nothing in the library imports it.
"""
