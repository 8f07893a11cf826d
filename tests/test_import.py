"""`import genmon` stays light: heavy libraries load only when a feature needs them."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("pandas", "pyarrow", "matplotlib", "seaborn", "openpyxl", "mlflow", "prometheus_client", "rich")


def test_import_genmon_loads_no_heavy_library() -> None:
    """After `import genmon` (and genmon.monitoring) none of pandas, pyarrow, matplotlib, ... is imported."""
    code = (
        "import sys, json, genmon, genmon.monitoring, genmon.testing; "
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert json.loads(out.stdout) == []
