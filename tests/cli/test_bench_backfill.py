"""The backfill measurement runs on both simulators and says how it measured (a short run)."""

from __future__ import annotations

import pytest

from bpbfx.bench import backfill


def test_backfill_measurement_short_run(capsys: pytest.CaptureFixture[str]) -> None:
    code = backfill.main(["--seeds", "1", "--before", "0.3", "--outage", "0.3", "--after", "0.5"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "tape = the simulator's own trade history" in out
    rows = [line for line in out.splitlines() if "backfill_trades=" in line]
    assert [r.split()[0] for r in rows] == ["backpack", "backpack", "bitfinex", "bitfinex"]
    assert all(" lost, 0 dup" in r for r in rows)
