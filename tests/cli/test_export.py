"""``bpbfx export``: sessions recorded live against the simulators, exported by the command and read
back with pyarrow; usage errors; the progress bar."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bpbfx import BackpackClient, BitfinexClient
from bpbfx.backpack import events as bp
from bpbfx.bitfinex import events as bf
from bpbfx.cli import main
from bpbfx.recording import Recorder
from bpbfx.sim.backpack import BackpackSimulator
from bpbfx.sim.bitfinex import BitfinexSimulator
from tests.cli.test_cli import bpbfx
from tests.support import FAST
from tests.support import Recorder as Events

pa = pytest.importorskip("pyarrow")
import pyarrow.dataset as ds  # noqa: E402

BOOK = "book:tBTCUSD:P0:F0:25"


def read(root: Path, table: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = ds.dataset(root / table, format="parquet", partitioning="hive").to_table().to_pylist()
    return rows


def record_backpack(sim: BackpackSimulator, path: Path, trades: int) -> Events:
    """Record trades and depth of SOL_USDC until ``trades`` trades were seen live."""
    seen = Events()
    client = BackpackClient(sim.url, books=False, on_message=seen, backoff=FAST)
    client.subscribe("depth.SOL_USDC", "trade.SOL_USDC", "ticker.SOL_USDC")
    with Recorder(path, "backpack", client.subscriptions) as recorder:
        recorder.attach(client)
        with client:
            assert seen.wait_count(trades, 20, kind=bp.Trade)
    return seen


def record_bitfinex(sim: BitfinexSimulator, path: Path, trades: int) -> Events:
    """Record a book, trades and the ticker of tBTCUSD until ``trades`` te trades were seen live."""
    seen = Events()
    client = BitfinexClient(sim.url, auth=False, books=False, on_message=seen, backoff=FAST,
                            on_error=lambda c, e: None)
    for stream in (BOOK, "trades:tBTCUSD", "ticker:tBTCUSD"):
        client.subscribe(stream)
    with Recorder(path, "bitfinex", client.subscriptions, meta={"flags": client.flags}) as recorder:
        recorder.attach(client)
        with client:
            assert seen.wait_for(lambda items: sum(isinstance(e, bf.TradeUpdate) and e.executed for e in items)
                                 >= trades, 20)
    return seen


@pytest.fixture
def sessions(tmp_path: Path, backpack_sim: Callable[..., BackpackSimulator],
             bitfinex_sim: Callable[..., BitfinexSimulator]) -> tuple[Events, Events]:
    live_bp = record_backpack(backpack_sim(seed=5, tick_interval=0.01, time_scale=0.01), tmp_path / "bp.jsonl", 30)
    live_bf = record_bitfinex(bitfinex_sim(seed=6, tick_interval=0.01, time_scale=0.01, hb_interval=0.2),
                              tmp_path / "bf.jsonl.gz", 30)
    return live_bp, live_bf


def test_export_of_recorded_sessions_holds_what_the_clients_saw(tmp_path: Path,
                                                               sessions: tuple[Events, Events]) -> None:
    """Every trade the live clients decoded reads back from Parquet with the same Decimal price
    and amount; books and tickers are there too; the summary counts them."""
    live_bp, live_bf = sessions
    result = bpbfx("export", "bp.jsonl", "bf.jsonl.gz", "--to", "parquet", "--output-dir", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "bpbfx export: " in result.stderr and " rows (" in result.stderr and "Traceback" not in result.stderr
    trades = {(t["exchange"], t["trade_id"]): t for t in read(tmp_path / "out", "trades")}
    live = [("backpack", e.trade_id, e.price, e.quantity) for e in live_bp.of(bp.Trade)]
    for e in live_bf.of((bf.TradeUpdate, bf.TradesSnapshot)):
        rows = [e.trade] if isinstance(e, bf.TradeUpdate) else list(e.trades)
        live += [("bitfinex", t.id, t.price, abs(t.amount)) for t in rows]
    assert len({(ex, i) for ex, i, _, _ in live}) == len(trades) >= 60
    for exchange, trade_id, price, amount in live:
        row = trades[(exchange, trade_id)]
        assert Decimal(row["price"]) == price and Decimal(row["amount"]) == amount
    snaps = read(tmp_path / "out", "book_snapshots")
    deltas = read(tmp_path / "out", "book_deltas")
    assert {r["exchange"] for r in snaps} == {"bitfinex"} and {r["exchange"] for r in deltas} == {"backpack",
                                                                                                 "bitfinex"}
    snapshot_ids = {r["snapshot_id"] for r in snaps}
    assert {r["snapshot_id"] for r in deltas if r["exchange"] == "bitfinex"} <= snapshot_ids
    tickers = read(tmp_path / "out", "tickers")
    assert {r["exchange"] for r in tickers} == {"backpack", "bitfinex"}


def test_pandas_and_duckdb_read_the_export_with_exact_prices(tmp_path: Path,
                                                             sessions: tuple[Events, Events]) -> None:
    """The dataset reads back in pandas and DuckDB as the docs show: the hive partitions become
    columns, and the prices cast to decimals equal what the live clients decoded."""
    import duckdb
    import pandas as pd

    live_bp, _ = sessions
    result = bpbfx("export", "bp.jsonl", "bf.jsonl.gz", "--to", "parquet", "--output-dir", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    root = tmp_path / "out" / "trades"
    live = {e.trade_id: e.price for e in live_bp.of(bp.Trade)}

    frame = pd.read_parquet(root, dtype_backend="pyarrow")
    mine = frame[frame["exchange"] == "backpack"]
    assert {int(i): Decimal(p) for i, p in zip(mine["trade_id"], mine["price"], strict=True)} == live
    assert set(frame["symbol"].astype(str)) >= {"SOL_USDC", "tBTCUSD"}

    con = duckdb.connect()
    source = f"read_parquet('{root}/**/*.parquet', hive_partitioning=true)"
    rows = con.execute(
        f"SELECT trade_id, price::DECIMAL(38, 18) FROM {source} WHERE exchange = 'backpack' ORDER BY trade_id"
    ).fetchall()
    assert {int(i): p for i, p in rows} == live
    total = con.execute(f"SELECT SUM(amount::DECIMAL(38, 18)) FROM {source} WHERE exchange = 'backpack'").fetchall()[0]
    assert total[0] == sum((e.quantity for e in live_bp.of(bp.Trade)), Decimal(0))


def run(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        *args: str) -> tuple[int, str]:
    """``bpbfx ARGS`` in this process, from ``tmp_path``: (exit status, stderr)."""
    monkeypatch.chdir(tmp_path)
    status = main(list(args))
    return status, capsys.readouterr().err


def test_progress_bar_is_drawn_on_request(tmp_path: Path, sessions: tuple[Events, Events],
                                          capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """--progress draws the bar on stderr (not a terminal here) up to 100 %; without it, none."""
    status, err = run(tmp_path, capsys, monkeypatch, "export", "bp.jsonl", "bf.jsonl.gz", "-o", "a", "--progress")
    assert status == 0, err
    assert "export [" in err and "100%" in err
    status, err = run(tmp_path, capsys, monkeypatch, "export", "bp.jsonl", "-o", "b", "--decimals", "decimal128")
    assert status == 0 and "export [" not in err
    assert str(ds.dataset(tmp_path / "b" / "trades", partitioning="hive").schema.field("price").type) == \
        "decimal128(38, 18)"


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_usage_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing to export, a missing file, --redis without a stream, files and --redis together: exit 2."""
    (tmp_path / "r.jsonl").write_text("")
    for args, words in [((), "nothing to export"), (("nope.jsonl",), "no such file: nope.jsonl"),
                        (("--redis", "redis://127.0.0.1:1/0"), "--redis needs a URL and at least one stream"),
                        (("r.jsonl", "--redis", "redis://x", "bitfinex:trades:tBTCUSD"), "not both")]:
        status, err = run(tmp_path, capsys, monkeypatch, "export", *args, "-o", "out")
        assert status == 2, err
        assert words in one_line(err)


def test_a_file_that_is_not_a_recording_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A file without a recording header is refused with one line naming it (exit 1)."""
    (tmp_path / "frames.jsonl").write_text(json.dumps({"event": "info", "version": 2}) + "\n")
    status, err = run(tmp_path, capsys, monkeypatch, "export", "frames.jsonl", "-o", "out")
    assert status == 1
    assert "frames.jsonl is not a bpbfx recording" in one_line(err)


def test_unreachable_redis_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """--redis with nothing listening is one line, exit 1."""
    pytest.importorskip("redis")
    status, err = run(tmp_path, capsys, monkeypatch, "export", "--redis", "redis://127.0.0.1:9/0",
                      "bitfinex:trades:tBTCUSD", "-o", "out")
    assert status == 1
    assert "unavailable" in one_line(err)


def test_missing_pyarrow_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Without pyarrow the command says which extra to install (exit 1), before reading anything."""
    import sys

    for name in [n for n in sys.modules if n == "bpbfx.export" or n.startswith("bpbfx.export.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    (tmp_path / "r.jsonl").write_text("")
    status, err = run(tmp_path, capsys, monkeypatch, "export", "r.jsonl", "-o", "out")
    assert status == 1
    assert "pip install 'bpbfx[parquet]'" in one_line(err)
