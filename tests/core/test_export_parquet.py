"""The Parquet export of recordings (bpbfx.export.export_parquet): the recorded traffic of tests/data
read back exactly, partitioning, bounded buffers, decimal128, rotated parts, re-exports, and bad
input counted or refused.  Files only, no sockets."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

pa = pytest.importorskip("pyarrow")
import pyarrow.dataset as ds  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from bpbfx import RecordingError  # noqa: E402
from bpbfx.export import TABLES, export_parquet  # noqa: E402
from bpbfx.export.parquet import ParquetDataset, arrow_schema, partition_dir  # noqa: E402
from bpbfx.export.progress import ProgressBar  # noqa: E402
from bpbfx.recording import Recorder  # noqa: E402
from bpbfx.sim.replay import load_frames  # noqa: E402
from tests.support import DATA  # noqa: E402

T0 = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC


def record(path: Path, exchange: str, frames: Iterable[str], *, t0: float = T0, step: float = 0.001,
           **options: Any) -> Recorder:
    """Write ``frames`` as a bpbfx recording, one receive time ``step`` seconds after the other."""
    with Recorder(path, exchange, ["test"], **options) as rec:
        rec.write_event("open", 0, ts=t0)
        for i, text in enumerate(frames):
            rec.write_frame(text, 0, ts=t0 + i * step)
    return rec


def read(root: Path, table: str) -> list[dict[str, Any]]:
    """Every row of a table of the dataset, partition columns included."""
    folder = root / table
    if not folder.exists():
        return []
    result: list[dict[str, Any]] = ds.dataset(folder, format="parquet", partitioning="hive").to_table().to_pylist()
    return result


def repo_recordings(tmp_path: Path) -> list[Path]:
    """The recorded traffic of tests/data as bpbfx recordings (times from the file, or 1 ms apart)."""
    paths = []
    for exchange, name in (("backpack", "backpack/wire_frames.jsonl"), ("bitfinex", "bitfinex/bbgo_ws_public.jsonl"),
                           ("bitfinex", "bitfinex/cryptofeed_ws_seq_all.txt")):
        frames = load_frames(DATA / name)
        path = tmp_path / (Path(name).stem + ".jsonl")
        with Recorder(path, exchange) as rec:
            for i, (ts, text) in enumerate(frames):
                rec.write_frame(text, 0, ts=ts if ts is not None else T0 + i / 1000)
        paths.append(path)
    return paths


def source_trades(paths: Iterable[Path]) -> dict[tuple[str, int], tuple[str, str]]:
    """(stream, trade id) -> (price text, |amount| text) from the frames, numbers as their text."""
    trades: dict[tuple[str, int], tuple[str, str]] = {}
    for path in paths:
        channels: dict[int, str] = {}
        for line in path.read_text().splitlines():
            text = json.loads(line).get("data")
            if not isinstance(text, str):
                continue
            msg = json.loads(text, parse_float=str, parse_int=str)
            if isinstance(msg, dict):
                if msg.get("event") == "subscribed" and msg.get("channel") == "trades":
                    channels[int(msg["chanId"])] = f"trades:{msg['symbol']}"
                continue
            if not isinstance(msg, list) or int(msg[0]) not in channels:
                continue
            rows = [msg[2]] if msg[1] in ("te", "tu") else (msg[1] if isinstance(msg[1], list) else [])
            for row in rows:
                trades[(channels[int(msg[0])], int(row[0]))] = (row[3], row[2].lstrip("-"))
    return trades


# ------------------------------------------------------------------------------------ exactness
def test_recorded_trades_read_back_exactly(tmp_path: Path) -> None:
    """Every Bitfinex trade of tests/data reads back from Parquet with the price and amount of
    the frame's own number text, compared as Decimal; each trade once."""
    paths = repo_recordings(tmp_path)
    result = export_parquet(paths, tmp_path / "out")
    source = source_trades(paths)
    trades = read(tmp_path / "out", "trades")
    assert len(source) > 100 and len(trades) == len(source) == result.rows["trades"]
    for t in trades:
        price, amount = source[(t["stream"], t["trade_id"])]
        assert Decimal(t["price"]) == Decimal(price) and Decimal(t["amount"]) == Decimal(amount)
        assert t["price"] == price or "e" in price.lower()  # the very digits, in plain notation
        assert t["exchange"] == "bitfinex" and t["symbol"] == t["stream"].split(":", 1)[1]
    assert result.duplicates > 0  # the te/tu pairs


def test_recorded_book_levels_read_back_exactly(tmp_path: Path) -> None:
    """The bbgo tBTCUSD snapshot and the Backpack depth deltas read back level by level with the
    exchange's text (Backpack zero sizes such as "0.00000" included)."""
    paths = repo_recordings(tmp_path)
    export_parquet(paths, tmp_path / "out")
    snaps = [r for r in read(tmp_path / "out", "book_snapshots") if r["stream"] == "book:tBTCUSD:P0:F0:25"]
    raw = next(json.loads(json.loads(line)["data"], parse_float=str) for line in paths[1].read_text().splitlines()
               if json.loads(line).get("data", "").startswith("[209640,[["))
    expected = [("bid" if not str(a).startswith("-") else "ask", str(p), str(c), str(a).lstrip("-"))
                for p, c, a in raw[1]]
    got = [(r["side"], r["price"], str(r["count"]), r["amount"]) for r in snaps[: len(expected)]]
    assert got == expected and len({r["snapshot_id"] for r in snaps}) >= 1
    deltas = [r for r in read(tmp_path / "out", "book_deltas") if r["exchange"] == "backpack"]
    levels = []
    for line in (DATA / "backpack/wire_frames.jsonl").read_text().splitlines():
        msg = json.loads(line)
        if msg.get("data", {}).get("e") == "depth":
            d = msg["data"]
            levels += [(msg["stream"], "bid", p, q, int(d["u"])) for p, q in d["b"]]
            levels += [(msg["stream"], "ask", p, q, int(d["u"])) for p, q in d["a"]]
    assert sorted((r["stream"], r["side"], r["price"], r["amount"], r["seq"]) for r in deltas) == sorted(levels)


# ------------------------------------------------------------------------------------ layout
def test_partitions_are_hive_directories_by_exchange_symbol_and_day(tmp_path: Path) -> None:
    """Rows land under exchange=/symbol=/date= of their receive day; a symbol with a colon is
    percent-encoded on disk and reads back as itself."""
    frames = [json.dumps({"event": "subscribed", "channel": "trades", "chanId": 1, "symbol": "tBTCF0:USTF0"}),
              "[1,[]]", '[1,"te",[1,1767225600000,0.5,100]]', '[1,"te",[2,1767312000000,-0.5,101]]']
    record(tmp_path / "r.jsonl", "bitfinex", frames, step=86_400 / 3)  # the last frame on the next day
    result = export_parquet([tmp_path / "r.jsonl"], tmp_path / "out")
    folders = sorted(str(p.parent.relative_to(tmp_path / "out")) for p in result.files)
    assert folders == ["trades/exchange=bitfinex/symbol=tBTCF0%3AUSTF0/date=2026-01-01",
                       "trades/exchange=bitfinex/symbol=tBTCF0%3AUSTF0/date=2026-01-02"]
    rows = read(tmp_path / "out", "trades")
    assert {r["symbol"] for r in rows} == {"tBTCF0:USTF0"} and {str(r["date"]) for r in rows} == {
        "2026-01-01", "2026-01-02"}
    assert not list((tmp_path / "out").rglob("*.tmp"))


def test_schemas_store_no_partition_columns_and_type_every_column() -> None:
    """File schemas leave exchange/symbol/date to the path; decimals are strings or decimal128(38,18)."""
    for table in TABLES:
        for decimals in ("string", "decimal128"):
            schema = arrow_schema(table, decimals)
            assert not {"exchange", "symbol", "date"} & set(schema.names)
            assert str(schema.field("receive_time").type) == "timestamp[us, tz=UTC]"
    assert arrow_schema("trades", "decimal128").field("price").type == pa.decimal128(38, 18)
    assert arrow_schema("trades").field("price").type == pa.string()


def test_buffers_and_open_files_stay_bounded(tmp_path: Path) -> None:
    """However many rows come in, at most max_buffered_rows wait, row groups hold at most
    batch_rows, and at most max_open_files files are open."""
    dataset = ParquetDataset(tmp_path, batch_rows=50, max_buffered_rows=120, max_open_files=2)
    dataset.begin("t")
    peak_open = 0
    for i in range(3000):
        symbol = f"S{i % 7}"
        row = ("trade.X", i, "1.5", "2", "buy", None, 1_767_225_600_000_000 + i, False, False)
        dataset.add("trades", "backpack", symbol, 1_767_225_600_000_000 + i, [row])
        assert dataset.buffered <= 120
        peak_open = max(peak_open, len(dataset._open))
    files = dataset.close()
    assert peak_open <= 2 and dataset.rows["trades"] == 3000
    groups = [pq.ParquetFile(f).metadata.row_group(g).num_rows for f in files
              for g in range(pq.ParquetFile(f).metadata.num_row_groups)]
    assert sum(groups) == 3000 and max(groups) <= 50
    assert partition_dir(tmp_path, "trades", "backpack", "S1", "2026-01-01").is_dir()


# ------------------------------------------------------------------------------------ decimals
def test_decimal128_holds_the_same_values(tmp_path: Path) -> None:
    """decimal128 columns read back equal (as Decimal) to the string export."""
    paths = repo_recordings(tmp_path)
    export_parquet(paths, tmp_path / "s")
    export_parquet(paths, tmp_path / "d", decimals="decimal128")
    text = {(r["stream"], r["trade_id"]): (r["price"], r["amount"]) for r in read(tmp_path / "s", "trades")}
    dec = {(r["stream"], r["trade_id"]): (r["price"], r["amount"]) for r in read(tmp_path / "d", "trades")}
    assert text.keys() == dec.keys()
    assert all(Decimal(p) == dec[k][0] and Decimal(a) == dec[k][1] for k, (p, a) in text.items())


def test_decimal128_refuses_a_value_it_cannot_hold(tmp_path: Path) -> None:
    """A price with more than 18 decimals stops a decimal128 export, naming the value; nothing
    is rounded and no file is left half written."""
    frames = [json.dumps({"event": "subscribed", "channel": "trades", "chanId": 1, "symbol": "tBTCUSD"}),
              '[1,"te",[1,1767225600000,0.5,0.0000000000000000001]]']
    record(tmp_path / "r.jsonl", "bitfinex", frames)
    with pytest.raises(RecordingError, match=r"price 0\.0000000000000000001 does not fit"):
        export_parquet([tmp_path / "r.jsonl"], tmp_path / "out", decimals="decimal128")
    assert not list((tmp_path / "out").rglob("*.parquet")) and not list((tmp_path / "out").rglob("*.tmp"))
    export_parquet([tmp_path / "r.jsonl"], tmp_path / "text")
    assert read(tmp_path / "text", "trades")[0]["price"] == "0.0000000000000000001"


# ------------------------------------------------------------------------------------ inputs
def test_rotated_parts_are_put_in_order(tmp_path: Path) -> None:
    """Parts given in any order export like the whole recording (Bitfinex channels announced in
    part 0 are known in the later parts)."""
    frames = [json.dumps({"event": "subscribed", "channel": "trades", "chanId": 1, "symbol": "tBTCUSD"})]
    frames += [f'[1,"te",[{i},1767225600000,0.5,{100 + i}]]' for i in range(1, 30)]
    rec = record(tmp_path / "rot.jsonl.gz", "bitfinex", frames, rotate_frames=7)
    assert len(rec.paths) == 5
    result = export_parquet(list(reversed(rec.paths)), tmp_path / "out")
    assert result.rows["trades"] == 29 and result.unknown == 0 and result.inputs == 5
    assert sorted(r["trade_id"] for r in read(tmp_path / "out", "trades")) == list(range(1, 30))


def test_exporting_again_replaces_the_files_of_that_recording(tmp_path: Path) -> None:
    """The same recording exported twice into one dataset holds its rows once; another recording
    adds its own files."""
    frames = [json.dumps({"event": "subscribed", "channel": "trades", "chanId": 1, "symbol": "tBTCUSD"}),
              '[1,"te",[1,1767225600000,0.5,100]]']
    record(tmp_path / "a.jsonl", "bitfinex", frames)
    record(tmp_path / "b.jsonl", "bitfinex", [frames[0], '[1,"te",[2,1767225600000,0.5,100]]'], t0=T0 + 60)
    export_parquet([tmp_path / "a.jsonl"], tmp_path / "out")
    export_parquet([tmp_path / "a.jsonl"], tmp_path / "out", batch_rows=1, max_buffered_rows=1)
    export_parquet([tmp_path / "b.jsonl"], tmp_path / "out")
    assert sorted(r["trade_id"] for r in read(tmp_path / "out", "trades")) == [1, 2]


def test_not_a_recording_is_refused(tmp_path: Path) -> None:
    """A file whose first line is no header is refused at once, naming it."""
    (tmp_path / "x.jsonl").write_text('[1,"te",[1,2,3,4]]\n')
    with pytest.raises(RecordingError, match=r"x\.jsonl is not a bpbfx recording"):
        export_parquet([tmp_path / "x.jsonl"], tmp_path / "out")


def test_bad_lines_are_counted_with_their_line_numbers(tmp_path: Path) -> None:
    """A line that is not JSON, an unknown record kind, an undecodable frame and a truncated last
    line are each left out, counted and named; the good rows around them are written."""
    path = tmp_path / "r.jsonl"
    record(path, "backpack", [json.dumps({"stream": "trade.SOL_USDC", "data": {
        "e": "trade", "E": 1, "s": "SOL_USDC", "p": "1.5", "q": "2", "t": i, "m": False}}) for i in range(3)])
    lines = path.read_text().splitlines(keepends=True)
    lines.insert(3, "{not json\n")
    lines.insert(4, '{"ts":1767225600.5,"kind":"snapshot","exchange":"backpack","conn":0}\n')
    lines.insert(5, '{"ts":1767225600.5,"kind":"frame","exchange":"backpack","conn":0,"data":"[garbage"}\n')
    lines.append('{"ts":1767225601.0,"kind":"frame","exch')
    path.write_text("".join(lines))
    messages: list[str] = []
    result = export_parquet([path], tmp_path / "out", on_message=messages.append)
    assert result.rows["trades"] == 3
    assert result.skipped == {"malformed line": 1, "unknown record kind": 1, "malformed frame": 1, "truncated": 1}
    assert any("r.jsonl:4:" in m for m in messages) and any("unknown record kind 'snapshot'" in m for m in messages)
    assert any("r.jsonl:9: the last line is cut short" in m for m in messages)
    assert "skipped bad input" in result.summary()
    with pytest.raises(RecordingError) as info:
        export_parquet([path], tmp_path / "strict", strict=True)
    assert info.value.line == 4


def test_a_gzip_recording_cut_short_keeps_what_it_holds(tmp_path: Path) -> None:
    """A compressed recording whose stream ends early exports the complete lines before the cut."""
    frames = [json.dumps({"stream": "trade.SOL_USDC", "data": {"e": "trade", "E": 1, "s": "SOL_USDC", "p": "1",
                                                               "q": "2", "t": i, "m": False}}) for i in range(200)]
    record(tmp_path / "full.jsonl.gz", "backpack", frames)
    data = (tmp_path / "full.jsonl.gz").read_bytes()
    (tmp_path / "cut.jsonl.gz").write_bytes(data[: len(data) - 40])
    result = export_parquet([tmp_path / "cut.jsonl.gz"], tmp_path / "out")
    assert result.skipped == {"truncated": 1} and 0 < result.rows["trades"] < 200
    assert len(gzip.decompress(data).splitlines()) == 202


def test_backfill_records_give_their_trades_once_marked_backfill(tmp_path: Path) -> None:
    """A ``backfill`` record (the trade history answer a client delivered missed trades from)
    gives its trades with backfill true, each id once: rows the stream had delivered are not
    written again; both exchanges."""
    bp = tmp_path / "bp.jsonl"
    frames = [json.dumps({"stream": "trade.SOL_USDC", "data": {"e": "trade", "E": 1, "s": "SOL_USDC", "p": "1",
                                                               "q": "2", "t": i, "m": False}}) for i in range(2)]
    with Recorder(bp, "backpack", ["trade.SOL_USDC"]) as rec:
        rec.write_event("open", 0, ts=T0)
        for i, text in enumerate(frames):
            rec.write_frame(text, 0, ts=T0 + i * 0.001)
        answer = [{"id": i, "price": "1.5", "quantity": "0.25", "quoteQuantity": "0.375",
                   "timestamp": 1_700_000_000_000, "isBuyerMaker": True} for i in (1, 2, 3)]
        rec.write_backfill("trade.SOL_USDC", json.dumps(answer), ts=T0 + 1)
    bf = tmp_path / "bf.jsonl"
    with Recorder(bf, "bitfinex", ["trades:tBTCUSD"]) as rec:
        rec.write_event("open", 0, ts=T0)
        rec.write_frame('{"event":"subscribed","channel":"trades","chanId":5,"symbol":"tBTCUSD","pair":"BTCUSD"}', 0,
                        ts=T0)
        rec.write_frame('[5,[[10,1700000000000,0.5,100.5]]]', 0, ts=T0 + 0.001)
        rec.write_backfill("trades:tBTCUSD", "[[10,1700000000000,0.5,100.5],[11,1700000000001,-0.25,100.25]]",
                           ts=T0 + 1)
    export_parquet([bp, bf], tmp_path / "out")
    rows = sorted((r["exchange"], r["trade_id"], r["backfill"], r["price"]) for r in read(tmp_path / "out", "trades"))
    assert rows == [("backpack", 0, False, "1"), ("backpack", 1, False, "1"), ("backpack", 2, True, "1.5"),
                    ("backpack", 3, True, "1.5"), ("bitfinex", 10, False, "100.5"), ("bitfinex", 11, True, "100.25")]


def test_progress_reaches_the_total(tmp_path: Path) -> None:
    """progress(done, total) ends at the total bytes of the recordings."""
    paths = repo_recordings(tmp_path)
    seen: list[tuple[int, int]] = []
    export_parquet(paths, tmp_path / "out", progress=lambda d, t: seen.append((d, t)))
    total = sum(p.stat().st_size for p in paths)
    assert seen[-1] == (total, total) and all(t == total for _, t in seen)


# ------------------------------------------------------------------------------------ progress bar
def test_progress_bar_draws_in_place_and_erases() -> None:
    """The bar redraws no more often than its interval (except at the end), shows percent, rate
    and ETA, prints messages on their own line and erases itself."""
    now = [0.0]
    out = io.StringIO()
    bar = ProgressBar(out, interval=1.0, clock=lambda: now[0])
    now[0] = 2.0
    bar.update(50_000_000, 200_000_000)
    bar.update(60_000_000, 200_000_000)  # within the interval: not drawn
    assert out.getvalue().count("\r") == 1
    assert "25%" in out.getvalue() and "50/200 MB" in out.getvalue() and "25 MB/s" in out.getvalue()
    assert "ETA 0:06" in out.getvalue()
    bar.message("a note")
    assert out.getvalue().endswith("a note\n")
    now[0] = 2.5
    bar.update(200_000_000, 200_000_000)
    assert "100%" in out.getvalue().rsplit("\n", 1)[1]
    bar.finish()
    assert out.getvalue().endswith("\r")
