"""Export measurements: how decimals are stored (the exchange's text or ``decimal128``), the
memory an export needs, and how the dataset reads back in pyarrow, pandas and DuckDB.

Run ``python -m bpbfx.bench.export`` (``--help`` for options).  A benchmark, not a test: every
figure is printed with how it was obtained.  ``pandas`` and ``duckdb`` are optional (the
``dev`` extra); without them their lines say so.

1. **Input.**  ``--recordings FILE...``, or generated: a Backpack and a Bitfinex recording of
   ``--size-mb`` MB together (:func:`generate`), frames shaped like the simulators' and the
   exchanges' (Backpack depth deltas, trades and tickers of four markets; Bitfinex P0 books
   with SEQ_ALL, ``te``/``tu`` trades and tickers whose sizes carry the float artefacts real
   Bitfinex tickers show, e.g. ``1.7023900800000002``), spread over ``--days`` days.
2. **Fit.**  For the recorded exchange traffic in the repository's ``tests/data`` (when run
   from a clone) and, with ``--fit``, for the input: every value the export writes into a decimal column, the
   largest scale (digits after the point) and integer digits per column, and whether
   ``decimal128(38, 18)`` and a narrower ``decimal128(28, 12)`` hold them all.
3. **Export.**  For each ``decimals`` choice, ``export_parquet`` runs in a fresh process
   (``--child``): its wall time, its peak resident memory (``VmHWM`` from ``/proc/self/status``,
   read by that process at the end), the dataset's bytes.
4. **Read.**  Each dataset: ``pyarrow.dataset`` to a table; ``pandas.read_parquet`` (default
   and ``dtype_backend="pyarrow"``); DuckDB ``SUM(amount)`` and ``SUM(price * amount)`` over
   the trades (decimal128 columns as they are; strings cast to ``DECIMAL(38, 18)`` for the sum
   and to ``DOUBLE`` for the product), best of ``--repeats``.
5. **Exactness.**  Every trade read back from each dataset, price and amount compared as
   ``Decimal`` with the text of the trade in the recording.

Exit status: 0; 1 when a value read back differs from its source; 2 on bad options.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..exceptions import BpbfxError
from ..export.parquet import DECIMAL128, DECIMALS, STRING
from ..export.run import export_parquet
from ..export.tables import COLUMNS, DECIMAL, TRADES
from ..recording import Recorder
from .harness import machine_line

__all__ = ["PROG", "generate", "main"]

PROG = "python -m bpbfx.bench.export"
_REPO_DATA = Path(__file__).resolve().parents[2] / "tests" / "data"
_BP_MARKETS = (("SOL_USDC", 150.0, 2, 2), ("BTC_USDC", 95000.0, 1, 5), ("ETH_USDC", 3300.0, 2, 4),
               ("DOGE_USDC", 0.16, 5, 0))
_BF_MARKETS = (("tBTCUSD", 95000, 8), ("tETHUSD", 3300, 8), ("tSOLUSD", 150, 8), ("tPEPE:USD", 0.000012, 2))


# ------------------------------------------------------------------------------------ generation
def _bp_frames(rng: random.Random) -> Iterator[str]:
    """Backpack frames: depth deltas, trades, and a ticker every 100 frames, four markets."""
    state = {s: (p, 5_000_000_000 + i * 10**8, 1000) for i, (s, p, _, _) in enumerate(_BP_MARKETS)}
    n = 0
    trade_id = 1
    while True:
        for symbol, _, decimals, qty_decimals in _BP_MARKETS:
            price, u, _ = state[symbol]
            price *= 1 + rng.gauss(0, 0.0002)
            n += 1
            now_us = 1_700_000_000_000_000 + n
            levels = [[f"{price * (1 + rng.uniform(-0.002, 0.002)):.{decimals}f}",
                       f"{rng.uniform(0, 50) if rng.random() > 0.2 else 0:.{qty_decimals}f}"]
                      for _ in range(rng.randint(1, 3))]
            side = "b" if rng.random() < 0.5 else "a"
            data = {"e": "depth", "E": now_us, "s": symbol, "a": levels if side == "a" else [],
                    "b": levels if side == "b" else [], "U": u + 1, "u": u + len(levels), "T": now_us - 150}
            state[symbol] = (price, u + len(levels), 0)
            yield json.dumps({"stream": f"depth.{symbol}", "data": data}, separators=(",", ":"))
            if rng.random() < 0.3:
                trade_id += 1
                data = {"e": "trade", "E": now_us, "s": symbol, "p": f"{price:.{decimals}f}",
                        "q": f"{rng.uniform(0.01, 20):.{qty_decimals}f}", "b": str(rng.getrandbits(48)),
                        "a": str(rng.getrandbits(48)), "t": trade_id, "m": rng.random() < 0.5, "T": now_us - 200}
                yield json.dumps({"stream": f"trade.{symbol}", "data": data}, separators=(",", ":"))
            if n % 100 == 0:
                data = {"e": "ticker", "E": now_us, "s": symbol, "o": f"{price * 0.99:.{decimals}f}",
                        "c": f"{price:.{decimals}f}", "h": f"{price * 1.02:.{decimals}f}",
                        "l": f"{price * 0.97:.{decimals}f}", "v": f"{rng.uniform(1e3, 1e6):.2f}",
                        "V": f"{rng.uniform(1e5, 1e8):.4f}", "n": rng.randint(1000, 100000)}
                yield json.dumps({"stream": f"ticker.{symbol}", "data": data}, separators=(",", ":"))


def _bf_number(value: float, sig: int = 5) -> str:
    """A price as Bitfinex writes it: 5 significant digits, as a JSON number."""
    text = f"{value:.{sig}g}"
    return str(Decimal(text).normalize()) if "e" not in text else text


def _bf_frames(rng: random.Random) -> Iterator[str]:
    """Bitfinex frames with SEQ_ALL: info, conf, subscriptions, then P0 book updates, te/tu
    trades and tickers (with float artefacts in sizes), four markets."""
    yield json.dumps({"event": "info", "version": 2, "platform": {"status": 1}})
    yield json.dumps({"event": "conf", "status": "OK", "flags": 65536})
    seq = 0
    chans: dict[tuple[str, str], int] = {}
    for i, (symbol, price, _) in enumerate(_BF_MARKETS):
        for j, channel in enumerate(("book", "trades", "ticker")):
            chan = chans[(symbol, channel)] = 1000 + i * 10 + j
            reply: dict[str, Any] = {"event": "subscribed", "channel": channel, "chanId": chan, "symbol": symbol}
            if channel == "book":
                reply.update(prec="P0", freq="F0", len="25")
            yield json.dumps(reply)
            seq += 1
            if channel == "book":
                levels = [f"[{_bf_number(price * (1 - k * 1e-4))},{rng.randint(1, 9)},{rng.uniform(0.01, 9):.8f}]"
                          for k in range(1, 26)]
                levels += [f"[{_bf_number(price * (1 + k * 1e-4))},{rng.randint(1, 9)},-{rng.uniform(0.01, 9):.8f}]"
                           for k in range(1, 26)]
                yield f"[{chan},[{','.join(levels)}],{seq}]"
            elif channel == "trades":
                yield f"[{chan},[],{seq}]"
            else:
                yield f"[{chan},[{price},1.5,{price},2.5,10,0.01,{price},1000.5,{price},{price}],{seq}]"
    prices = {s: float(p) for s, p, _ in _BF_MARKETS}
    trade_id = 1_700_000_000
    n = 0
    while True:
        for symbol, _, _ in _BF_MARKETS:
            n += 1
            price = prices[symbol] = prices[symbol] * (1 + rng.gauss(0, 0.0002))
            seq += 1
            sign = "-" if rng.random() < 0.5 else ""
            count = rng.randint(0, 9)
            amount = "1" if count == 0 else f"{rng.uniform(0.0001, 9):.8f}"
            level_price = _bf_number(price * (1 + rng.uniform(-0.002, 0.002)))
            yield f"[{chans[(symbol, 'book')]},[{level_price},{count},{sign}{amount}],{seq}]"
            if rng.random() < 0.3:
                trade_id += 1
                mts = 1_700_000_000_000 + n
                row = f"[{trade_id},{mts},{sign}{rng.uniform(0.0001, 2):.8f},{_bf_number(price)}]"
                seq += 1
                yield f'[{chans[(symbol, "trades")]},"te",{row},{seq}]'
                seq += 1
                yield f'[{chans[(symbol, "trades")]},"tu",{row},{seq}]'
            if n % 100 == 0:
                seq += 1
                size = repr(rng.uniform(0.1, 2e6))  # 17 significant digits, as Bitfinex tickers show
                yield (f"[{chans[(symbol, 'ticker')]},[{_bf_number(price)},{size},{_bf_number(price * 1.0001)},"
                       f"{size},{_bf_number(price * 0.01)},0.0101,{_bf_number(price)},{rng.uniform(1, 1e5):.8f},"
                       f"{_bf_number(price * 1.02)},{_bf_number(price * 0.97)}],{seq}]")


def generate(directory: Path, size_mb: float, days: float = 2.0, seed: int = 7) -> list[Path]:
    """Write a Backpack and a Bitfinex recording of about ``size_mb`` MB together into
    ``directory``, their receive times spread evenly over ``days`` days; returns the paths."""
    rng = random.Random(seed)
    start = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC
    paths = []
    for exchange, frames in (("backpack", _bp_frames(rng)), ("bitfinex", _bf_frames(rng))):
        path = directory / f"generated-{exchange}.jsonl"
        budget = int(size_mb * 1_000_000 / 2)
        per_frame = 0.0
        estimate = max(1, budget // 250)
        with Recorder(path, exchange, ["generated"], meta={"generated": True}) as rec:
            rec.write_event("open", 0, ts=start)
            i = 0
            for text in frames:
                i += 1
                rec.write_frame(text, 0, ts=start + days * 86400 * min(i / estimate, 1.0))
                if i % 50_000 == 0:
                    rec.flush()
                    written = path.stat().st_size
                    if written >= budget:
                        break
                    per_frame = written / i
                    estimate = max(i + 1, int(budget / per_frame))
        paths.append(path)
    return paths


# ------------------------------------------------------------------------------------ measuring
def _decimal_texts(paths: Sequence[Path], out: Path) -> dict[str, list[str]]:
    """Every decimal value the export writes, by ``table.column`` (a string export of ``paths``)."""
    import pyarrow.dataset as ds

    export_parquet(paths, out)
    found: dict[str, list[str]] = {}
    for table, columns in COLUMNS.items():
        folder = out / table
        if not folder.exists():
            continue
        data = ds.dataset(folder, format="parquet", partitioning="hive").to_table()
        for name, kind in columns:
            if kind == DECIMAL:
                found[f"{table}.{name}"] = [v for v in data.column(name).to_pylist() if v is not None]
    return found


def _fit_lines(label: str, texts: dict[str, list[str]]) -> list[str]:
    lines = [f"fit: {label}: column: values, max scale, max integer digits, fits decimal128(38,18), (28,12)"]
    for column, values in sorted(texts.items()):
        if not values:
            continue
        scale = digits = 0
        for v in values:
            t = Decimal(v).as_tuple()
            exponent = int(t.exponent)
            scale = max(scale, -exponent)
            digits = max(digits, len(t.digits) + exponent)
        lines.append(f"  {column}: {len(values)}, {scale}, {digits}, {scale <= 18 and digits <= 20}, "
                     f"{scale <= 12 and digits <= 16}")
    return lines


def _repo_recordings(directory: Path) -> list[Path]:
    """The recorded traffic of ``tests/data`` wrapped as bpbfx recordings (needs a clone)."""
    try:
        from ..sim.replay import load_frames
    except ImportError:
        return []
    sources = (("backpack", "backpack/wire_frames.jsonl"), ("bitfinex", "bitfinex/bbgo_ws_public.jsonl"),
               ("bitfinex", "bitfinex/cryptofeed_ws_seq_all.txt"))
    paths = []
    for exchange, name in sources:
        source = _REPO_DATA / name
        if not source.exists():
            return []
        path = directory / (Path(name).stem + ".jsonl")
        with Recorder(path, exchange) as rec:
            for i, (ts, text) in enumerate(load_frames(source)):
                rec.write_frame(text, 0, ts=ts if ts is not None else 1_700_000_000 + i / 1000)
        paths.append(path)
    return paths


def _peak_rss() -> int:
    """This process's peak resident memory since it started its program (``VmHWM``: unlike
    ``ru_maxrss`` it does not count the parent's pages the child had before ``exec``)."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _child(paths: Sequence[str], out: str, decimals: str) -> int:
    started = time.perf_counter()
    result = export_parquet(paths, out, decimals=decimals)
    print(json.dumps({"rows": result.total_rows, "files": len(result.files), "rss": _peak_rss(),
                      "seconds": time.perf_counter() - started}))
    return 0


def _run_child(paths: Sequence[Path], out: Path, decimals: str) -> dict[str, Any]:
    """``{"rows", "files", "rss" (peak bytes), "seconds"}`` of one export in a fresh process."""
    cmd = [sys.executable, "-m", "bpbfx.bench.export", "--child", "--decimals", decimals, "--out", str(out),
           "--recordings", *map(str, paths)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"export ({decimals}) failed: {proc.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.splitlines()[-1])
    return result


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*.parquet"))


def _best(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def _read_lines(out: Path, decimals: str, repeats: int) -> list[str]:
    import pyarrow.dataset as ds

    trades = out / TRADES
    seconds = _best(lambda: ds.dataset(trades, partitioning="hive").to_table(), repeats)
    lines = [f"  pyarrow.dataset(trades).to_table(): {seconds:.3f} s"]
    try:
        import pandas as pd  # type: ignore[import-untyped]
    except ImportError:
        lines.append("  pandas: not installed (pip install 'bpbfx[dev]')")
    else:
        lines.append(f"  pandas.read_parquet(trades): {_best(lambda: pd.read_parquet(trades), repeats):.3f} s")
        lines.append(f"  pandas.read_parquet(trades, dtype_backend='pyarrow'): "
                     f"{_best(lambda: pd.read_parquet(trades, dtype_backend='pyarrow'), repeats):.3f} s")
    try:
        import duckdb
    except ImportError:
        lines.append("  duckdb: not installed (pip install 'bpbfx[dev]')")
        return lines
    src = f"read_parquet('{trades}/**/*.parquet', hive_partitioning = true)"
    if decimals == STRING:
        total = f"SELECT SUM(amount::DECIMAL(38, 18)) FROM {src}"
        notional = f"SELECT SUM(price::DOUBLE * amount::DOUBLE) FROM {src}"
    else:
        total = f"SELECT SUM(amount) FROM {src}"
        notional = f"SELECT SUM(price * amount) FROM {src}"
    con = duckdb.connect()
    lines.append(f"  duckdb {total.split(' FROM')[0]}: {_best(lambda: con.sql(total).fetchall(), repeats):.3f} s")
    try:
        seconds = _best(lambda: con.sql(notional).fetchall(), repeats)
        lines.append(f"  duckdb {notional.split(' FROM')[0]}: {seconds:.3f} s")
    except duckdb.Error as exc:
        lines.append(f"  duckdb {notional.split(' FROM')[0]}: fails: {str(exc).splitlines()[0][:150]}")
    return lines


def _source_trades(paths: Sequence[Path]) -> dict[tuple[str, int], tuple[str, str]]:
    """(stream, trade id) -> (price text, amount text) of every trade in the recordings' frames,
    read with the standard ``json`` module (numbers kept as their text)."""
    trades: dict[tuple[str, int], tuple[str, str]] = {}
    for path in paths:
        channels: dict[int, str] = {}
        with open(path, "rb") as raw:
            compressed = raw.read(2) == b"\x1f\x8b"
        with (gzip.open(path, "rt", encoding="utf-8") if compressed else open(path, encoding="utf-8")) as fh:
            for line in fh:
                rec = json.loads(line)
                text = rec.get("data")
                if rec.get("kind") != "frame" or not isinstance(text, str):
                    continue
                msg = json.loads(text, parse_float=str, parse_int=str)
                if isinstance(msg, dict):
                    if msg.get("event") == "subscribed" and msg.get("channel") == "trades":
                        channels[int(msg["chanId"])] = f"trades:{msg['symbol']}"
                    elif str(msg.get("stream", "")).startswith("trade."):
                        d = msg["data"]
                        trades[(msg["stream"], int(d["t"]))] = (d["p"], d["q"])
                    continue
                if not isinstance(msg, list) or len(msg) < 2 or int(msg[0]) not in channels:
                    continue
                stream = channels[int(msg[0])]
                rows = [msg[2]] if msg[1] in ("te", "tu") else (msg[1] if isinstance(msg[1], list) else [])
                for row in rows:
                    if isinstance(row, list) and len(row) >= 4:
                        trades[(stream, int(row[0]))] = (str(row[3]), str(row[2]).lstrip("-"))
    return trades


def _exactness(out: Path, source: dict[tuple[str, int], tuple[str, str]]) -> tuple[int, int]:
    """(trades compared, trades whose price or amount differs) between the dataset and
    ``source``, compared as ``Decimal``."""
    import pyarrow.dataset as ds

    table = ds.dataset(out / TRADES, partitioning="hive").to_table(columns=["stream", "trade_id", "price", "amount"])
    compared = differ = 0
    columns = (table.column(c).to_pylist() for c in ("stream", "trade_id", "price", "amount"))
    for stream, trade_id, price, amount in zip(*columns, strict=True):
        expected = source.get((stream, trade_id))
        if expected is None:
            continue
        compared += 1
        if Decimal(str(price)) != Decimal(expected[0]) or Decimal(str(amount)) != Decimal(expected[1]):
            differ += 1
    return compared, differ


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Run the measurements and print them (calling thread); returns the exit status."""
    parser = argparse.ArgumentParser(prog=prog, description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--recordings", nargs="+", metavar="FILE", help="measure these instead of generated ones")
    parser.add_argument("--size-mb", type=float, default=200.0, help="size of the generated recordings (200)")
    parser.add_argument("--days", type=float, default=2.0, help="days the generated recordings span (2)")
    parser.add_argument("--repeats", type=int, default=3, help="timed reads per figure, best kept (3)")
    parser.add_argument("--fit", action="store_true", help="also measure the fit of the input's values (slow on GBs)")
    parser.add_argument("--dir", help="work directory (default: a temporary one, removed at the end)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--decimals", choices=DECIMALS, default=STRING, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args.recordings, args.out, args.decimals)
    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="bpbfx-export-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        return _measure(args, work)
    finally:
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)


def _measure_repo(work: Path) -> int:
    """Fit and exactness on the recorded traffic of ``tests/data``; returns 1 when a value
    read back differs."""
    (work / "repo").mkdir(exist_ok=True)
    repo = _repo_recordings(work / "repo")
    if not repo:
        print("fit: tests/data: not available (run from a clone, with the 'sim' extra)")
        return 0
    for line in _fit_lines("tests/data (recorded exchange traffic)", _decimal_texts(repo, work / "fit-repo")):
        print(line)
    source = _source_trades(repo)
    status = 0
    for decimals in DECIMALS:
        out = work / f"repo-{decimals}"
        try:
            export_parquet(repo, out, decimals=decimals)
        except BpbfxError as exc:
            print(f"tests/data decimals={decimals}: export fails: {exc}")
            continue
        compared, differ = _exactness(out, source)
        print(f"tests/data decimals={decimals}: {compared} trades read back, {differ} differ from the recorded text")
        status |= differ > 0
    return status


def _measure(args: argparse.Namespace, work: Path) -> int:
    print(f"machine: {machine_line()}; Python {sys.version.split()[0]}")
    import pyarrow

    print(f"pyarrow {pyarrow.__version__}")
    if args.recordings:
        paths = [Path(p) for p in args.recordings]
    else:
        started = time.perf_counter()
        paths = generate(work, args.size_mb, args.days)
        print(f"generated {', '.join(p.name for p in paths)} ({sum(p.stat().st_size for p in paths) / 1e6:.0f} MB, "
              f"{args.days:g} days) in {time.perf_counter() - started:.0f} s")
    status = _measure_repo(work)
    if args.fit:
        for line in _fit_lines(", ".join(p.name for p in paths), _decimal_texts(paths, work / "fit-input")):
            print(line)
    input_bytes = sum(p.stat().st_size for p in paths)
    source: dict[tuple[str, int], tuple[str, str]] = {}
    for decimals in (STRING, DECIMAL128):
        out = work / f"out-{decimals}"
        shutil.rmtree(out, ignore_errors=True)
        try:
            result = _run_child(paths, out, decimals)
        except RuntimeError as exc:
            print(f"export decimals={decimals}: {exc}")
            continue
        seconds = result["seconds"]
        print(f"export decimals={decimals}: {input_bytes / 1e6:.0f} MB of recordings -> {result['rows']} rows, "
              f"{result['files']} files, {_size(out) / 1e6:.1f} MB of Parquet (zstd) in {seconds:.1f} s "
              f"({input_bytes / 1e6 / seconds:.1f} MB/s); peak RSS of the exporting process "
              f"{result['rss'] / 1e6:.0f} MB (VmHWM)")
        for line in _read_lines(out, decimals, args.repeats):
            print(line)
        source = source or _source_trades(paths)
        compared, differ = _exactness(out, source)
        print(f"  exactness: {compared} trades read back, {differ} differ from the recording's text")
        status |= differ > 0
    return status


if __name__ == "__main__":
    sys.exit(main())
