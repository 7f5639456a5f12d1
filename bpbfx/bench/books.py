"""Order-book throughput: Bitfinex P0 updates and Backpack depth deltas per second.

Run ``python -m bpbfx.bench.books`` (``--help`` for options).  A benchmark, not a test: it prints
figures together with how they were obtained (machine, Python, N, repeats, median of runs).

Bitfinex: the recorded tBTCUSD P0 len 25 book (``bitfinex/bbgo_ws_public.jsonl``: one snapshot
and its updates) is replayed from the raw frame text, the way the client handles a frame:
``json.JSONDecoder(parse_float=str).decode`` -> snapshot / update / ``cs`` dispatch ->
:class:`~bpbfx.bitfinex.book.BitfinexBook`.  The recording has no ``cs`` frames, so the expected
checksums are computed beforehand by an independent model (plain dicts +
:func:`~bpbfx.bitfinex.checksum.book_checksum`) and inserted as ``[CHAN,"cs",N]`` frames, which are
then decoded and verified like live ones.  Each pass re-applies the snapshot and all updates; only
update frames count as updates, but the time includes every frame (snapshot and ``cs`` too).

Backpack: the recordings hold only a handful of depth frames, so a deterministic synthetic stream
shaped like them (1-3 levels per side per frame, about a fifth of them deletions written
``"0.00"``, consecutive ``U``/``u``) is decoded with ``json.loads`` and fed through
:func:`~bpbfx.backpack.book.parse_levels` into a synchronised
:class:`~bpbfx.backpack.book.BackpackBookSync`.
"""

from __future__ import annotations

import argparse
import decimal
import gc
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..backpack.book import BackpackBookSync, SyncAction, parse_depth_snapshot, parse_levels, parse_update_id
from ..bitfinex.book import BitfinexBook
from ..bitfinex.checksum import book_checksum
from .harness import cpu_model

__all__ = ["DEFAULT_DATA", "PROG", "main"]

PROG = "python -m bpbfx.bench.books"
"""The program name the usage line shows when the module runs as a script."""

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "tests" / "data"
"""The recorded exchange traffic in the repository (``tests/data``); an installed copy without
the repository is pointed at a copy of that folder with ``--data``."""


# -- machine description --------------------------------------------------------------------------------


def describe_machine() -> str:
    """One paragraph describing the machine and interpreter."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        usable = os.cpu_count() or 0
    decimal_impl = "C (libmpdec)" if hasattr(decimal, "__libmpdec_version__") else "pure Python (_pydecimal)"
    return (
        f"machine : {cpu_model()}, {os.cpu_count()} CPUs ({usable} usable), {platform.platform()}\n"
        f"python  : {platform.python_implementation()} {platform.python_version()} "
        f"({' '.join(platform.python_build())}), decimal {decimal_impl}, gc enabled"
    )


# -- Bitfinex --------------------------------------------------------------------------------------------


def load_bitfinex(data_dir: Path) -> tuple[int, str, list[str]]:
    """(chanId, snapshot frame text, update frame texts) of the recorded tBTCUSD P0 book."""
    path = data_dir / "bitfinex" / "bbgo_ws_public.jsonl"
    chan_id: int | None = None
    snapshot: str | None = None
    updates: list[str] = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            msg = json.loads(line)
            if (
                chan_id is None
                and msg.get("event") == "subscribed"
                and msg.get("channel") == "book"
                and msg.get("symbol") == "tBTCUSD"
                and msg.get("prec") == "P0"
            ):
                chan_id = int(msg["chanId"])
            continue
        if chan_id is None or not line.startswith(f"[{chan_id},"):
            continue
        body = json.loads(line)[1]
        if not isinstance(body, list):
            continue  # heartbeat
        if body and isinstance(body[0], list):
            snapshot = line
        elif snapshot is not None:
            updates.append(line)
    if chan_id is None or snapshot is None or not updates:
        raise SystemExit(f"no tBTCUSD P0 book found in {path}")
    return chan_id, snapshot, updates


def reference_checksums(snapshot: str, updates: Sequence[str]) -> list[int]:
    """Checksum after each update, from an independent dict model (not BitfinexBook)."""
    decode = json.JSONDecoder(parse_float=str).decode
    bids: dict[Decimal, tuple[Any, Any]] = {}
    asks: dict[Decimal, tuple[Any, Any]] = {}

    def apply(entry: list[Any]) -> None:
        price, count, amount = entry[0], entry[1], entry[2]
        side = bids if Decimal(str(amount)) > 0 else asks
        if count == 0:
            side.pop(Decimal(str(price)), None)
        else:
            side[Decimal(str(price))] = (price, amount)

    for entry in decode(snapshot)[1]:
        apply(entry)
    sums = []
    for text in updates:
        apply(decode(text)[1])
        sums.append(book_checksum([bids[p] for p in sorted(bids, reverse=True)], [asks[p] for p in sorted(asks)]))
    return sums


def build_frames(chan_id: int, snapshot: str, updates: Sequence[str], sums: Sequence[int], every: int) -> list[str]:
    """Snapshot, then the updates with a ``cs`` frame after every ``every``-th update (0: none)."""
    frames = [snapshot]
    for index, (text, cs) in enumerate(zip(updates, sums, strict=True), start=1):
        frames.append(text)
        if every and index % every == 0:
            frames.append(f'[{chan_id},"cs",{cs}]')
    return frames


def replay_bitfinex(frames: Sequence[str], passes: int) -> float:
    """Replay ``frames`` ``passes`` times through decode + BitfinexBook; return elapsed seconds."""
    decode = json.JSONDecoder(parse_float=str).decode
    book = BitfinexBook("tBTCUSD", "P0", 25)
    apply_snapshot = book.apply_snapshot
    apply_update = book.apply_update
    verify = book.verify
    start = time.perf_counter()
    for _ in range(passes):
        for text in frames:
            msg = decode(text)
            body = msg[1]
            if type(body) is list:
                if body and type(body[0]) is list:
                    apply_snapshot(body)
                else:
                    apply_update(body)
            elif body == "cs":
                verify(msg[2])
    elapsed = time.perf_counter() - start
    if not book.valid:
        raise SystemExit("benchmark book ended invalid: checksum mismatch")
    return elapsed


def replay_client(chan_id: int, frames: Sequence[str], passes: int) -> float:
    """Replay ``frames`` through a whole ``BitfinexClient`` (no socket: ``client.feed``):
    decode -> typed event -> managed book -> checksum -> ``on_message`` / ``on_book`` hooks."""
    from ..bitfinex.client import BitfinexClient
    from ..bitfinex.protocol import OB_CHECKSUM

    def noop(client: object, event: object) -> None:
        return None

    subscribed = json.dumps(
        {"event": "subscribed", "channel": "book", "chanId": chan_id, "symbol": "tBTCUSD", "prec": "P0",
         "freq": "F0", "len": "25", "pair": "BTCUSD"}
    ).encode()
    payloads = [f.encode() for f in frames]
    elapsed = 0.0
    for _ in range(passes):
        # A fresh client per pass (untimed): a second "subscribed" reply for the same channel
        # answers no request and is refused by the client, as it should be.
        client = BitfinexClient("ws://127.0.0.1:9", auth=False, flags=OB_CHECKSUM, on_message=noop, on_book=noop)
        stream = client.subscribe("book", symbol="tBTCUSD", prec="P0", freq="F0", len=25)
        feed = client.feed
        feed(subscribed)
        start = time.perf_counter()
        for data in payloads:
            feed(data)
        elapsed += time.perf_counter() - start
        if not client.book(stream).valid or client.stats().errors:
            raise SystemExit("benchmark client reported errors or ended with an invalid book")
        client.close()
    return elapsed


# -- Backpack --------------------------------------------------------------------------------------------


def synthetic_backpack(count: int, first_id: int, seed: int = 1) -> tuple[str, list[str]]:
    """A REST body at ``first_id - 1`` and ``count`` depth frames shaped like the wire frames."""
    rng = random.Random(seed)
    mid = 86_655_9  # tenths
    bids = [[f"{(mid - i) / 10:.1f}", f"{rng.uniform(0.001, 5):.5f}"] for i in range(1, 200)]
    asks = [[f"{(mid + i) / 10:.1f}", f"{rng.uniform(0.001, 5):.5f}"] for i in range(1, 200)]
    body = json.dumps(
        {"asks": asks, "bids": bids[::-1], "lastUpdateId": str(first_id - 1), "timestamp": 1790134357267289}
    )
    frames = []
    update_id = first_id
    for _ in range(count):
        sides: dict[str, list[list[str]]] = {"a": [], "b": []}
        for key, sign in (("b", -1), ("a", 1)):
            for _ in range(rng.randint(0, 3)):
                price = f"{(mid + sign * rng.randint(1, 60)) / 10:.1f}"
                qty = "0.00" if rng.random() < 0.2 else f"{rng.uniform(0.001, 5):.5f}"
                sides[key].append([price, qty])
        last_id = update_id + rng.randint(0, 3)
        data = {
            "E": 1790134357267289,
            "T": 1790134357267074,
            "U": update_id,
            "a": sides["a"],
            "b": sides["b"],
            "e": "depth",
            "s": "BTC_USDC_PERP",
            "u": last_id,
        }
        frames.append(json.dumps({"data": data, "stream": "depth.BTC_USDC_PERP"}, separators=(",", ":")))
        update_id = last_id + 1
    return body, frames


def replay_backpack(body: str, first: str, frames: Sequence[str]) -> float:
    """Align a fresh sync with ``first`` and ``body`` (untimed); time decoding + applying ``frames``."""
    sync = BackpackBookSync("BTC_USDC_PERP")
    data = json.loads(first)["data"]
    sync.on_delta(data["U"], data["u"], parse_levels(data["b"]), parse_levels(data["a"]))
    snap = parse_depth_snapshot(body)
    if sync.on_snapshot(snap.last_update_id, snap.bids, snap.asks).action is not SyncAction.SYNCED:
        raise SystemExit("Backpack benchmark: snapshot did not align")
    loads = json.loads
    on_delta = sync.on_delta
    applied = SyncAction.APPLIED
    missed = 0
    start = time.perf_counter()
    for text in frames:
        data = loads(text)["data"]
        result = on_delta(
            parse_update_id(data["U"]), parse_update_id(data["u"]), parse_levels(data["b"]), parse_levels(data["a"])
        )
        if result.action is not applied:
            missed += 1
    elapsed = time.perf_counter() - start
    if missed or not sync.book.valid:
        raise SystemExit(f"Backpack benchmark: {missed} deltas not applied")
    return elapsed


# -- driver ----------------------------------------------------------------------------------------------


def _runs(label: str, runs: int, n: int, unit: str, once: Callable[[], float]) -> float:
    once()  # warm-up, not counted
    rates = []
    for _ in range(runs):
        rates.append(n / once())
    median = statistics.median(rates)
    print(
        f"  {label:<44} {median:>12,.0f} {unit}/s  (median of {runs} runs; min {min(rates):,.0f}, "
        f"max {max(rates):,.0f}; N = {n:,} {unit} per run)"
    )
    return median


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Run the benchmark and print the figures; returns a process exit code.  ``prog``: the
    program name of the usage line.

    Raises:
        SystemExit: from argument parsing (``--help``, or an invalid option).
    """
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="recordings directory (default: the repository's tests/data)"
    )
    parser.add_argument("--runs", type=int, default=7, help="timed runs per figure; the median is reported")
    parser.add_argument("--passes", type=int, default=30, help="Bitfinex recording replays per run")
    parser.add_argument("--deltas", type=int, default=50_000, help="Backpack deltas per run")
    parser.add_argument("--cs-every", type=int, default=10, help="the lower checksum rate: one cs per N updates")
    parser.add_argument("--profile", action="store_true", help="profile one run of the cs-after-every-update case")
    args = parser.parse_args(argv)
    if not (args.data / "bitfinex").is_dir():
        print(f"data directory not found: {args.data} (use --data)", file=sys.stderr)
        return 2
    if not gc.isenabled():
        gc.enable()

    chan_id, snapshot, updates = load_bitfinex(args.data)
    sums = reference_checksums(snapshot, updates)
    every_update = build_frames(chan_id, snapshot, updates, sums, 1)
    lower_rate = build_frames(chan_id, snapshot, updates, sums, args.cs_every)
    no_checksum = build_frames(chan_id, snapshot, updates, sums, 0)
    n_updates = len(updates) * args.passes

    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(replay_bitfinex, every_update, args.passes)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
        return 0

    print(describe_machine())
    print(
        "method  : time.perf_counter() around each whole run, one thread, 1 untimed warm-up run, "
        f"then {args.runs} timed runs; the median rate is reported"
    )
    print(
        f"bitfinex: tBTCUSD P0 len 25 recording, 1 snapshot + {len(updates):,} updates, "
        f"replayed {args.passes}x per run;\n"
        "          timed from raw frame text: JSONDecoder(parse_float=str) -> dispatch -> BitfinexBook"
    )
    _runs(
        "P0 updates, cs frame verified after every one",
        args.runs,
        n_updates,
        "updates",
        lambda: replay_bitfinex(every_update, args.passes),
    )
    _runs(
        f"P0 updates, cs frame verified every {args.cs_every}",
        args.runs,
        n_updates,
        "updates",
        lambda: replay_bitfinex(lower_rate, args.passes),
    )
    _runs("P0 updates, no checksum", args.runs, n_updates, "updates", lambda: replay_bitfinex(no_checksum, args.passes))
    print(
        "          the same frames through a whole BitfinexClient (client.feed, no socket): decode -> typed\n"
        "          event -> managed book -> checksum verify -> on_message and on_book callbacks"
    )
    _runs(
        "client path, cs verified after every update",
        args.runs,
        n_updates,
        "updates",
        lambda: replay_client(chan_id, every_update, args.passes),
    )

    body, frames = synthetic_backpack(args.deltas, first_id=1_000_000)
    levels = sum(len(json.loads(f)["data"]["a"]) + len(json.loads(f)["data"]["b"]) for f in frames)
    print(
        f"backpack: synthetic depth stream shaped like the recorded frames, {args.deltas:,} deltas "
        f"({levels / args.deltas:.2f} levels each, first one aligns the snapshot untimed) per run;\n"
        "          timed from raw frame text: json.loads -> parse_levels -> BackpackBookSync.on_delta"
    )
    first, rest = frames[0], frames[1:]
    _runs("depth deltas, synced book", args.runs, len(rest), "deltas", lambda: replay_backpack(body, first, rest))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
