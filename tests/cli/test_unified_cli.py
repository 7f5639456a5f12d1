"""The command line: ``bpbfx stream --unified`` and the demo's cross-exchange line."""

from __future__ import annotations

import json
import re

import pytest

from bpbfx.cli import main


def test_stream_unified_prints_unified_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    """stream --unified prints Trade lines with the unified symbol and Decimal strings."""
    status = main(["stream", "bitfinex", "trades:tBTCUST", "--sim", "--unified", "--max-events", "3"])
    out = capsys.readouterr().out.splitlines()
    assert status == 0 and len(out) == 3
    for line in out:
        row = json.loads(line)
        assert row["event"] == "Trade" and row["symbol"] == "BTC/USDT" and row["native_symbol"] == "tBTCUST"
        assert row["side"] in ("buy", "sell") and float(row["size"]) > 0 and isinstance(row["price"], str)


def test_stream_unified_backpack_books_give_book_changes(capsys: pytest.CaptureFixture[str]) -> None:
    """A Backpack depth stream under --unified yields BookChange events from the managed book."""
    status = main(["stream", "backpack", "depth.SOL_USDC", "--sim", "--unified", "--max-events", "2"])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert status == 0 and rows[0]["event"] == "BookChange" and rows[0]["symbol"] == "SOL/USDC"
    assert rows[0]["snapshot"] is True and rows[0]["valid"] is True


def test_demo_shows_the_cross_exchange_line(capsys: pytest.CaptureFixture[str]) -> None:
    """The demo prints best bid/ask of BTC/USDT on both simulators and the spreads between them."""
    status = main(["demo", "--duration", "3"])
    out = capsys.readouterr().out
    assert status == 0
    lines = [line for line in out.splitlines() if "cross BTC/USDT" in line]
    assert lines
    last = lines[-1]
    assert re.search(r"backpack \d+\.\d / \d+\.\d", last) and re.search(r"bitfinex \d+ / \d+", last)
    assert "buy backpack/sell bitfinex" in last and "buy bitfinex/sell backpack" in last
