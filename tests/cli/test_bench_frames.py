"""The per-frame benchmark runs and says how it measured (a smoke run; figures not judged)."""

from __future__ import annotations

import pytest

from bpbfx.bench import frames


def test_frames_benchmark_smoke_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert frames.main(["--frames", "200", "--runs", "1"]) == 0
    out = capsys.readouterr().out
    assert "client.feed(frame) -> decode -> route -> on_message" in out
    assert "Bitfinex te" in out and "Backpack trade" in out and " us" in out
