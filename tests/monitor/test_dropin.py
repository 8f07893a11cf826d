"""A program written for afterimage's GenerationMonitor runs on genmon by changing one import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

AFTERIMAGE_PROGRAM = '''
import json
import sys
from datetime import datetime, timedelta
from pathlib import Path

from afterimage.monitoring import (
    Alert,
    FileMetricHandler,
    GenerationMonitor,
    MetricHandler,
    TokenUsageReport,
)


class CountingHandler(MetricHandler):
    def __init__(self):
        self.names = []

    def handle_metric(self, metric_name, value, metadata):
        self.names.append(metric_name)


log_dir = Path(sys.argv[1])
counting = CountingHandler()
alerts: list[Alert] = []
monitor = GenerationMonitor(
    log_dir=log_dir,
    metric_handlers=[counting, FileMetricHandler(log_dir)],
    alert_handlers=[alerts.append],
    metrics_interval=60,
    shutdown_timeout=5,
    alert_min_success_rate=0.9,
    token_usage_callback=lambda report: None,
)
monitor.track_generation(
    duration=1.2,
    success=True,
    model_name="gpt-4o-mini",
    finish_reason="stop",
    prompt_token_count=100,
    completion_token_count=50,
    total_token_count=150,
    metadata={"conversation_id": "c1"},
)
monitor.track_generation(duration=2.0, success=False, model_name="gpt-4o-mini", error="timeout")
monitor.track_evaluation(duration=0.3, success=True, evaluator_type="coherence", scores={"coherence": 0.8})
monitor.record_metric("custom", 1.0, {"timestamp": datetime.now()})
monitor.log_info("generated", count=2)
monitor.log_warning("slow call")
monitor.log_error("failed", error=ValueError("bad"))
monitor.shutdown()

stats = monitor.get_metrics("generation_time", window=timedelta(minutes=5))
usage: TokenUsageReport = monitor.get_total_token_usage()
print(json.dumps({
    "generation_time": {k: stats[k] for k in ("mean", "min", "max", "count")},
    "usage": [(u.model_name, u.prompt_tokens, u.completion_tokens, u.total_tokens) for u in usage.by_model],
    "handled": sorted(set(counting.names)),
}))
'''


def test_afterimage_program_runs_unchanged_except_the_import(tmp_path: Path) -> None:
    """The afterimage program, with only its import line changed, produces afterimage's results and files."""
    source = AFTERIMAGE_PROGRAM.replace("from afterimage.monitoring import", "from genmon.monitoring import")
    assert source.count("genmon") == 1  # one changed line, nothing else
    script = tmp_path / "program.py"
    script.write_text(source)
    run_dir = tmp_path / "run"
    out = subprocess.run([sys.executable, str(script), str(run_dir)], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["generation_time"] == {"mean": 1.6, "min": 1.2, "max": 2.0, "count": 2}
    assert result["usage"] == [["gpt-4o-mini", 100, 50, 150]]
    assert {"generation_time", "success_rate", "error_rate", "model_usage:gpt-4o-mini", "evaluation_time", "custom"} <= set(
        result["handled"]
    )
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert {"metric", "value", "timestamp"} <= set(lines[0])
    assert lines[0]["conversation_id"] == "c1"
    log = (run_dir / "genmon.log").read_text()
    assert "slow call" in log and "ValueError" in log
