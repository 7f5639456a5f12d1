"""``bpbfx bench latency``: the tick-to-order benchmark in its quickest mode (shape only, no timing)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from .test_cli import clean_env

_NUMBER = r"[\d,]+"
_ROW = re.compile(
    r"^  (idle|[\d,]+ msg/s)\s+\|"
    + rf"\s+{_NUMBER}" * 4 + r"\s+\|"
    + rf"\s+{_NUMBER}" * 4 + r"\s+\|"
    + r"\s+[\d.]+x" * 4 + r"$"
)


def test_quick_run_prints_one_row_per_venue_and_rate(tmp_path: Path) -> None:
    """--quick measures both venues idle and at 1,000 msg/s and prints the two tables, the health
    of every bot, and exits 0 without judging the figures."""
    result = subprocess.run(
        [sys.executable, "-m", "bpbfx", "bench", "latency", "--quick"],
        capture_output=True, text=True, timeout=180, cwd=tmp_path, env=clean_env(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "bpbfx tick-to-order latency benchmark"
    for label in ("machine:", "software:", "processes:", "measured:", "samples:", "bare:", "bpbfx:"):
        assert any(line.startswith(f"  {label}") for line in lines), label
    titles = [i for i, line in enumerate(lines) if line.startswith(("Bitfinex: ", "Backpack: "))]
    assert [lines[i].split(":")[0] for i in titles] == ["Bitfinex", "Backpack"]
    for i in titles:
        assert "bare (us)  p50" in lines[i + 1] and "bpbfx/bare p50" in lines[i + 1]
        rows = [_ROW.match(line) for line in lines[i + 2 : i + 4]]
        assert all(rows), lines[i + 2 : i + 4]
        assert [m.group(1) for m in rows if m] == ["idle", "1,000 msg/s"]
    health = [line for line in lines if line.startswith(("    bitfinex ", "    backpack "))]
    assert len(health) == 8  # 2 venues x 2 rates x 2 bots
    assert all("10 samples" in line and "unanswered 0" in line and "errors" not in line for line in health)
    assert lines[-1].endswith("quick mode: figures not judged")
