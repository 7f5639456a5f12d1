"""The Parquet export of published Redis streams: simulator -> client -> RedisStreamSink -> real
redis-server -> export_redis_parquet / ``bpbfx export --redis`` -> pyarrow."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bpbfx import BackpackClient, BitfinexClient
from bpbfx.backpack import events as bp
from bpbfx.bitfinex import events as bf
from bpbfx.book import Level
from bpbfx.cli import main
from bpbfx.sim.backpack import BackpackSimulator
from bpbfx.sim.bitfinex import BitfinexSimulator
from bpbfx.sinks import RedisStreamSink
from tests.redis.test_sink import BOOK, FAST
from tests.support import Recorder

pa = pytest.importorskip("pyarrow")
import pyarrow.dataset as ds  # noqa: E402

from bpbfx.export import export_redis_parquet  # noqa: E402

STREAMS = [f"bitfinex:{BOOK}", "bitfinex:trades:tBTCUSD", "backpack:depth.SOL_USDC", "backpack:trade.SOL_USDC"]


def read(root: Path, table: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = ds.dataset(root / table, format="parquet", partitioning="hive").to_table().to_pylist()
    return rows


def rebuild(snapshot: list[dict[str, Any]], deltas: list[dict[str, Any]]) -> tuple[list[Level], list[Level]]:
    """A book from its snapshot rows and the delta rows after it (amount 0 removes a level)."""
    sides: dict[str, dict[Decimal, Decimal]] = {"bid": {}, "ask": {}}
    for row in [*snapshot, *deltas]:
        price, amount = Decimal(row["price"]), Decimal(row["amount"])
        if amount:
            sides[row["side"]][price] = amount
        else:
            sides[row["side"]].pop(price, None)
    bids = [Level(p, s) for p, s in sorted(sides["bid"].items(), reverse=True)]
    asks = [Level(p, s) for p, s in sorted(sides["ask"].items())]
    return bids, asks


def test_published_streams_export_to_what_the_clients_had(
    redis_url: str, bitfinex_sim: Callable[..., BitfinexSimulator], backpack_sim: Callable[..., BackpackSimulator],
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """Trades read back with the live clients' Decimal prices and amounts; the last snapshot of each
    book plus the deltas that name it rebuild the client's final book; a reconnect's gap entry is
    a warning and the deltas after it name the new snapshot; the command writes the same rows."""
    bfx = bitfinex_sim(seed=31, tick_interval=0.01, hb_interval=0.2, time_scale=0.01)
    bpx = backpack_sim(seed=32, tick_interval=0.01, time_scale=0.01)
    seen = Recorder()
    sink = RedisStreamSink(redis_url, snapshot_every=25)
    bfc = BitfinexClient(bfx.url, auth=False, backoff=FAST, heartbeat_timeout=2.0, on_message=seen,
                         on_error=lambda c, e: None)
    bfc.subscribe(BOOK)
    bfc.subscribe("trades:tBTCUSD")
    bpc = BackpackClient(bpx.url, rest_url=bpx.http_url, backoff=FAST, on_message=seen,
                         streams=["depth.SOL_USDC", "trade.SOL_USDC"])
    sink.attach(bfc)
    sink.attach(bpc)
    with bfc, bpc:
        assert seen.wait_count(20, 20, kind=bf.TradeUpdate) and seen.wait_count(20, 20, kind=bp.Trade)
        before = len(seen.of(bf.TradeUpdate))
        bfx.send_info(20051)  # the server restarts: the client reconnects, the sink writes gap entries
        assert seen.wait_count(before + 20, 20, kind=bf.TradeUpdate)
    assert sink.flush(10)
    sink.close()
    final = {BOOK: bfc.book(BOOK).snapshot(), "depth.SOL_USDC": bpc.book("SOL_USDC").snapshot()}

    messages: list[str] = []
    result = export_redis_parquet(redis_url, STREAMS, tmp_path / "out", on_message=messages.append)
    assert result.inputs == 4 and result.skipped == {}
    assert result.warnings >= 1 and any("the writer reported a gap (reconnect" in m for m in messages)

    trades = {(t["exchange"], t["trade_id"]): t for t in read(tmp_path / "out", "trades")}
    live = [("backpack", e.trade_id, e.price, e.quantity) for e in seen.of(bp.Trade)]
    for e in seen.of((bf.TradeUpdate, bf.TradesSnapshot)):
        rows = [e.trade] if isinstance(e, bf.TradeUpdate) else list(e.trades)
        live += [("bitfinex", t.id, t.price, abs(t.amount)) for t in rows]
    assert len(trades) == len({(ex, i) for ex, i, _, _ in live})
    for exchange, trade_id, price, amount in live:
        row = trades[(exchange, trade_id)]
        assert Decimal(row["price"]) == price and Decimal(row["amount"]) == amount

    snaps, deltas = read(tmp_path / "out", "book_snapshots"), read(tmp_path / "out", "book_deltas")
    for stream, book in final.items():
        last = max(r["snapshot_id"] for r in snaps if r["stream"] == stream)
        since = [r for r in deltas if r["stream"] == stream and r["snapshot_id"] == last]
        bids, asks = rebuild([r for r in snaps if r["snapshot_id"] == last and r["stream"] == stream], since)
        assert (bids, asks) == (list(book.bids), list(book.asks)), stream
    assert len({r["snapshot_id"] for r in snaps if r["stream"] == BOOK}) >= 2  # the rebuild after the restart

    status = main(["export", "--redis", redis_url, *STREAMS, "-o", str(tmp_path / "cli")])
    assert status == 0, capsys.readouterr().err
    for table in ("trades", "book_snapshots", "book_deltas"):
        assert len(read(tmp_path / "cli", table)) == len(read(tmp_path / "out", table)) > 0
