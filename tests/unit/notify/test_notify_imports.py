"""Every `tasuki run` asks tasuki.notify for its hooks: importing it must not load the HTTP
client (urllib.request, http.client: ~20 ms) or importlib.metadata (~15 ms) before a
notification is sent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CHILD = """
import json, sys
import tasuki
from tasuki.notify import hooks_from_settings
hooks = hooks_from_settings(tasuki.load_settings({}))
print(json.dumps({"hooks": len(hooks), "loaded": sorted(sys.modules)}))
"""


def test_importing_notify_loads_no_http_client():
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["hooks"] == 0
    for name in ("urllib.request", "http.client", "importlib.metadata"):
        assert name not in got["loaded"], f"import tasuki.notify loads {name}"
