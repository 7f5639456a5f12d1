"""`bpbfx collect --all-markets` options: bad values exit 2 with one line saying what is valid."""

from __future__ import annotations

import pytest

from tests.cli.test_wording import error_of


def test_filters_without_all_markets_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """--quote / --market-type / --market-streams without --all-markets name the missing option."""
    assert error_of(capsys, "collect", "--quote", "USDC", "--market-type", "spot") == (
        "bpbfx collect: error: --quote, --market-type filter every market: give --all-markets too")


def test_unknown_market_stream_names_the_valid_kinds(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown --market-streams kind is refused with both exchanges' kinds."""
    line = error_of(capsys, "collect", "--all-markets", "--market-streams", "trades", "depht")
    assert line.startswith("bpbfx collect: error: --market-streams: unknown market stream 'depht' for backpack "
                           "and bitfinex: Backpack kinds are trade, depth,"), line


def test_bad_exchange_market_type_and_connect_limit_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown exchange, market type or connect limit exits 2 with what is valid."""
    assert "unknown exchange 'kraken'; choose backpack or bitfinex" in error_of(
        capsys, "collect", "--all-markets", "kraken")
    assert "--market-type: invalid choice: 'future'" in error_of(
        capsys, "collect", "--all-markets", "--market-type", "future")
    assert "connect_limit must be [connects >= 1, seconds > 0]" in error_of(
        capsys, "collect", "--all-markets", "--connect-limit", "20")
    assert "--markets-refresh: must be > 0" in error_of(capsys, "collect", "--all-markets", "--markets-refresh", "0")
