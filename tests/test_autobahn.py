"""Autobahn|Testsuite groups 1, 2, 5 and 7 against the echo client on each connector (benchmarks/autobahn.py).

Runs only where wstest can: pyenv's Python 2.7 and ``.autobahn/`` (``./scripts/dev.sh`` installs it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "autobahn.py"
sys.path.insert(0, str(SCRIPT.parent))
try:
    from autobahn import PREFIX, UPSTREAM_EXCEPTIONS, python2
finally:
    sys.path.remove(str(SCRIPT.parent))

PY2 = python2()
pytestmark = [
    pytest.mark.skipif(PY2 is None or not os.access(PY2, os.X_OK),
                       reason="no Python 2.7 for wstest (pyenv versions/2.7.*, or set AUTOBAHN_PYTHON)"),
    pytest.mark.skipif(not (PREFIX / ".ready").is_file(),
                       reason=f"autobahntestsuite is not installed in {PREFIX} (./scripts/dev.sh installs it)"),
]
GROUPS = "1.*,2.*,5.*,7.*"


@pytest.fixture(scope="module")
def summaries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("autobahn")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--cases", GROUPS, "--outdir", str(out / "reports"),
         "--json", str(out / "summary.json")],
        check=False, capture_output=True, text=True, timeout=120,
    )
    assert (out / "summary.json").is_file(), result.stdout[-3000:] + result.stderr[-3000:]
    return {s["transport"]: s for s in json.loads((out / "summary.json").read_text())}


@pytest.mark.parametrize("transport", ["websockets", "trio-websocket"])
def test_framing_ping_fragmentation_and_close_cases_pass(summaries, transport):
    summary = summaries[transport]
    assert summary["cases"] >= 80 and summary["missing"] == 0
    assert summary["client_errors"] == {}
    # every case OK, NON-STRICT or INFORMATIONAL, but what the library documents as failing
    assert summary["unexpected"] == [], summary["failing"]
    assert set(summary["failing"]) <= UPSTREAM_EXCEPTIONS[transport]
    assert summary["counts"]["OK"] >= summary["cases"] - 5


@pytest.mark.parametrize("transport", ["websockets", "trio-websocket"])
def test_pings_are_answered_at_once(summaries, transport):
    """Group 2 waits up to 1 s for each pong: a pong that sat behind the next read took exactly that."""
    slow = {case: ms for case, ms in summaries[transport]["durations_ms"].items() if case.startswith("2.") and ms > 500}
    assert slow == {}
