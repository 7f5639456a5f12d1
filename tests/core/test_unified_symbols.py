"""Unified symbols and candle intervals: round trips on real symbols from the recordings."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bpbfx import ConfigurationError, SymbolMappingError
from bpbfx.unified import (
    native_currency,
    native_interval,
    to_native,
    to_unified,
    unified_currency,
    unified_interval,
)


def recorded_bitfinex_pairs(data_dir: Path) -> set[str]:
    text = (data_dir / "bitfinex" / "cryptofeed_ws_seq_all.txt").read_text()
    text += (data_dir / "bitfinex" / "bbgo_ws_public.jsonl").read_text()
    return {s for s in re.findall(r'"symbol":"(t[^"]+)"', text)}


def recorded_backpack_symbols(data_dir: Path) -> set[str]:
    out = set()
    for line in (data_dir / "backpack" / "wire_frames.jsonl").read_text().splitlines():
        data = json.loads(line).get("data")
        if data:
            out.add(data["s"])
    return out


@pytest.mark.parametrize(
    ("exchange", "native", "unified"),
    [
        ("bitfinex", "tBTCUSD", "BTC/USD"),
        ("bitfinex", "tBTCUST", "BTC/USDT"),
        ("bitfinex", "tBTCF0:USTF0", "BTC/USDT:USDT"),
        ("bitfinex", "tETHF0:USTF0", "ETH/USDT:USDT"),
        ("bitfinex", "tDOGE:USD", "DOGE/USD"),
        ("bitfinex", "tTESTBTC:TESTUSD", "TESTBTC/TESTUSD"),
        ("bitfinex", "tIOTETH", "IOTA/ETH"),
        ("bitfinex", "tMNABTC", "MANA/BTC"),
        ("bitfinex", "tBTCUDC", "BTC/USDC"),
        ("backpack", "SOL_USDC", "SOL/USDC"),
        ("backpack", "BTC_USDC_PERP", "BTC/USDC:USDC"),
        ("backpack", "AAPL.US_USDC_PERP", "AAPL.US/USDC:USDC"),
    ],
)
def test_known_symbols_map_both_ways(exchange: str, native: str, unified: str) -> None:
    """Each native symbol has the ccxt-style unified name, and back."""
    assert to_unified(exchange, native) == unified
    assert to_native(exchange, unified) == native


def test_every_recorded_symbol_round_trips(data_dir: Path) -> None:
    """Every market symbol in the recordings maps to a unified symbol and back to itself."""
    bitfinex = recorded_bitfinex_pairs(data_dir)
    backpack = recorded_backpack_symbols(data_dir)
    assert {"tBTCUSD", "tTESTBTC:TESTUSD", "tDOGUSD"} <= bitfinex
    assert {"SOL_USDC", "BTC_USDC_PERP", "AAPL.US_USDC_PERP"} <= backpack
    for native in sorted(bitfinex):
        unified = to_unified("bitfinex", native)
        assert re.fullmatch(r"[A-Z0-9.]+/[A-Z0-9.]+(:[A-Z0-9.]+)?", unified), unified
        assert to_native("bitfinex", unified) == native
    for native in sorted(backpack):
        assert to_native("backpack", to_unified("backpack", native)) == native


def test_same_market_on_both_exchanges_shares_the_unified_symbol() -> None:
    """BTC/USDT spot and perpetual name the same market on both venues."""
    assert to_native("backpack", "BTC/USDT") == "BTC_USDT" and to_native("bitfinex", "BTC/USDT") == "tBTCUST"
    assert to_unified("backpack", "BTC_USDT_PERP") == to_unified("bitfinex", "tBTCF0:USTF0") == "BTC/USDT:USDT"


@pytest.mark.parametrize(
    ("exchange", "symbol", "needle"),
    [
        ("bitfinex", "fUST", "funding currency (USDT)"),
        ("bitfinex", "BTCUSD", "not a Bitfinex trading pair"),
        ("bitfinex", "tBTCUS", "not a Bitfinex trading pair"),
        ("backpack", "SOLUSDC", "not a Backpack market symbol"),
        ("backpack", "SOL_USDC_FUT", "not a Backpack market symbol"),
        ("kraken", "XBTUSD", "unknown exchange"),
    ],
)
def test_unmappable_native_symbols_raise_a_clear_error(exchange: str, symbol: str, needle: str) -> None:
    """A symbol that cannot be mapped raises SymbolMappingError naming it and what is valid."""
    with pytest.raises(SymbolMappingError, match=re.escape(needle)) as info:
        to_unified(exchange, symbol)
    assert isinstance(info.value, ConfigurationError)
    assert info.value.symbol in (symbol, "")


@pytest.mark.parametrize(
    ("exchange", "unified", "needle"),
    [
        ("bitfinex", "BTCUSD", "not a unified symbol"),
        ("bitfinex", "BTC/USDT:BTC", "settle in their quote currency"),
        ("backpack", "SOL-USDC", "not a unified symbol"),
        ("bitfinex", "btc/usd", "upper-case"),
    ],
)
def test_unmappable_unified_symbols_raise_a_clear_error(exchange: str, unified: str, needle: str) -> None:
    """A unified symbol the exchange cannot express raises SymbolMappingError."""
    with pytest.raises(SymbolMappingError, match=re.escape(needle)):
        to_native(exchange, unified)


def test_currency_codes_and_intervals() -> None:
    """Currency codes and candle intervals map to one vocabulary both ways."""
    assert unified_currency("bitfinex", "UST") == "USDT" and unified_currency("bitfinex", "fUST") == "USDT"
    assert native_currency("bitfinex", "USDT") == "UST" and native_currency("backpack", "USDT") == "USDT"
    assert unified_interval("bitfinex", "1D") == "1d" and native_interval("bitfinex", "2w") == "14D"
    assert unified_interval("backpack", "1month") == "1M" and native_interval("backpack", "1M") == "1month"
    for exchange, native in (("bitfinex", "1W"), ("backpack", "1w"), ("bitfinex", "15m")):
        assert native_interval(exchange, unified_interval(exchange, native)) == native
    with pytest.raises(SymbolMappingError, match="valid: 1m, 5m"):
        unified_interval("bitfinex", "2m")
    with pytest.raises(SymbolMappingError, match="has no '3d' candles"):
        native_interval("bitfinex", "3d")
