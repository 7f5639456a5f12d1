"""Decoder benchmark: the hot-path JSON decoder (:func:`bpbfx._json.make_loads`) against msgspec.

Run ``python -m bpbfx.bench.decoders`` (``--help`` for options).  A benchmark, not a test: every
figure is printed with how it was obtained.  ``msgspec`` is optional (``pip install msgspec``);
without it the module says so and exits with status 2.

Decoders, all given each frame as ``bytes`` (as read from the socket):

- **current** (the stdlib engine, ``BPBFX_JSON=stdlib``): ``make_loads(engine="stdlib")`` for
  Backpack (prices and quantities are JSON strings, the few JSON floats become ``float``) and
  ``make_loads(parse_float=str, engine="stdlib")`` for Bitfinex (every number written with
  ``.`` or an exponent stays ``str`` holding its exact wire text, integers are ``int``; the
  book checksum is computed from that text);
- **msgspec**: ``msgspec.json.Decoder(float_hook=str).decode`` (``float_hook`` is called with the
  raw text of each untyped float literal; checked below on ``1e-8``, ``0.10``, ``-0.0``,
  ``1.50E+3``), and for Backpack also ``msgspec.json.Decoder().decode``, whose types match
  ``make_loads()``; and the shipped ``make_loads(engine="msgspec")``, which wraps it turning
  ``RecursionError`` into ``ValueError`` (msgspec raises ``RecursionError`` on deep nesting,
  which ``except ValueError`` does not catch);
- **json.loads** (stdlib, default floats) for reference.

Frame sets: recorded traffic from the repository's ``tests/data`` (Backpack ``wire_frames.jsonl``;
Bitfinex ``bbgo_ws_public.jsonl``, ``cryptofeed_ws_seq_all.txt`` received frames, and
``bbgo_ws_private.jsonl`` with the checksum-vector frames), and the synthetic frames of the
throughput matrix (:mod:`bpbfx.bench.matrix`), produced by running the blaster's stream
functions (:mod:`bpbfx.bench.streams`) against an in-memory socket and splitting the WebSocket
frames they write: Backpack trades (1,024 distinct frames), Backpack depth 50+50 levels (the
20-delta cycle), Bitfinex ``te`` trades with SEQ_ALL, Bitfinex BULK book updates of 50 entries
(the 20-step cycle).

Timing.  One thread, ``time.perf_counter`` around a whole pass loop over a set's frames; the
pass count is chosen so that one timed run of the current decoder lasts ``--min-time``; after
an untimed warm-up run of every decoder, ``--repeats`` timed runs per decoder, interleaved
(the decoder order rotates each round), ``gc.collect()`` before each run, gc enabled; the best
run is reported as microseconds per frame (loop overhead included, the same for every
decoder) and frames per second.

Identity.  On every frame of every set, the msgspec result is compared with the current
decoder's: ``==`` and, recursively, the same type for every value (``str`` vs ``int`` vs
``float``), the same dict key order, and for floats the same ``repr``.

Checks.  The literal text given to ``float_hook``; the two Bitfinex checksum vectors fed through
:class:`~bpbfx.bitfinex.book.BitfinexBook` from each decoder's output.  Hostile input: each
decoder is given frames the clients must refuse with ``ValueError`` (``NaN``/``Infinity``,
100,000-deep nesting, invalid UTF-8, trailing garbage, a 5,001-digit integer, an empty frame) or
must accept (surrounding whitespace), and frames with no fixed requirement (lone surrogate
escape, duplicate keys, float overflow); what it does is printed.

Exit status: 0; 1 if msgspec decodes a frame differently or a check fails; 2 if it cannot run.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import platform
import struct
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._json import make_loads
from ..bitfinex.book import BitfinexBook
from .books import DEFAULT_DATA
from .harness import machine_line, ws_frame
from .streams import backpack_trade, write_bitfinex_book, write_bitfinex_trades, write_depth

__all__ = ["PROG", "main"]

PROG = "python -m bpbfx.bench.decoders"
"""The program name the usage line shows when the module runs as a script."""

Decode = Callable[[bytes], Any]

_SEQ_ALL = 65536
_BULK_UPDATES = 536870912


@dataclass(frozen=True)
class Decoder:
    """One decoder under test."""

    label: str
    decode: Decode
    role: str = ""  # "current", "candidate" or "" (reference)


@dataclass
class FrameSet:
    """Frames of one exchange, decoded by every decoder of that exchange."""

    label: str
    exchange: str  # "backpack" or "bitfinex"
    frames: list[bytes]

    @property
    def mean_bytes(self) -> float:
        return sum(map(len, self.frames)) / len(self.frames)


@dataclass
class Timing:
    """Best run of each decoder on one frame set."""

    frame_set: FrameSet
    passes: int
    us: dict[str, float] = field(default_factory=dict)  # decoder label -> microseconds per frame


# ================================================================================ frames
def _nonempty_lines(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().splitlines() if line.strip()]


def _cryptofeed_received(path: Path) -> list[bytes]:
    """Received frames of a cryptofeed capture.  Sent frames are ``URL <- TIMESTAMP: FRAME`` and
    the connect line ``URL <-> TIMESTAMP``; received frames are ``TIMESTAMP: FRAME``, in some
    captures after a ``URL -> `` prefix."""
    frames = []
    for line in path.read_bytes().splitlines():
        if not line.strip() or b" <- " in line or b" <-> " in line:
            continue
        _, arrow, rest = line.partition(b" -> ")
        stamp, colon, frame = (rest if arrow else line).partition(b": ")
        if colon and stamp.replace(b".", b"").isdigit():
            frames.append(frame)
    return frames


def _checksum_vectors(data_dir: Path) -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads((data_dir / "bitfinex" / "checksum_vectors.json").read_text())["vectors"]
    return vectors


def recorded_sets(data_dir: Path) -> list[FrameSet]:
    """The recorded traffic, one set per recording (Backpack, then Bitfinex)."""
    bitfinex = data_dir / "bitfinex"
    vector_frames = [frame.encode() for vector in _checksum_vectors(data_dir) for frame in vector["frames"]]
    return [
        FrameSet(
            "Backpack recorded: wire_frames.jsonl",
            "backpack",
            _nonempty_lines(data_dir / "backpack" / "wire_frames.jsonl"),
        ),
        FrameSet(
            "Bitfinex recorded: bbgo_ws_public.jsonl", "bitfinex", _nonempty_lines(bitfinex / "bbgo_ws_public.jsonl")
        ),
        FrameSet(
            "Bitfinex recorded: cryptofeed_ws_seq_all.txt (received)",
            "bitfinex",
            _cryptofeed_received(bitfinex / "cryptofeed_ws_seq_all.txt"),
        ),
        FrameSet(
            "Bitfinex recorded: bbgo_ws_private + checksum vectors",
            "bitfinex",
            _nonempty_lines(bitfinex / "bbgo_ws_private.jsonl") + vector_frames,
        ),
    ]


class _CaptureSocket:
    """Stands in for the blaster's socket: keeps everything written to it."""

    def __init__(self) -> None:
        self.data = bytearray()

    def sendall(self, data: bytes | bytearray | memoryview) -> None:
        self.data += data


def _split_server_frames(data: bytes | bytearray) -> list[bytes]:
    """Payloads of the unmasked server-to-client frames in ``data``."""
    frames = []
    i = 0
    while i < len(data):
        n = data[i + 1] & 0x7F
        i += 2
        if n == 126:
            (n,) = struct.unpack_from("!H", data, i)
            i += 2
        elif n == 127:
            (n,) = struct.unpack_from("!Q", data, i)
            i += 8
        frames.append(bytes(data[i : i + n]))
        i += n
    return frames


def _bitfinex_client(flags: int, subscribe: dict[str, Any]) -> io.BytesIO:
    """What a client sends before the blaster starts streaming: ``conf`` and ``subscribe``."""
    conf = json.dumps({"event": "conf", "flags": flags}).encode()
    return io.BytesIO(ws_frame(conf) + ws_frame(json.dumps({"event": "subscribe", **subscribe}).encode()))


def synthetic_sets() -> list[FrameSet]:
    """The throughput matrix's frames, as its blaster writes them."""
    now_us = time.time_ns() // 1000
    bp_trades = [backpack_trade(i, now_us + i) for i in range(1024)]

    sock = _CaptureSocket()
    write_depth(sock, 20, 50)
    bp_depth = _split_server_frames(sock.data)

    sock = _CaptureSocket()
    write_bitfinex_trades(sock, _bitfinex_client(_SEQ_ALL, {"channel": "trades", "symbol": "tBTCUSD"}), 1000)
    bf_trades = [frame for frame in _split_server_frames(sock.data) if b',"te",' in frame]

    sock = _CaptureSocket()
    subscribe = {"channel": "book", "symbol": "tBTCUSD", "prec": "P0", "len": 25}
    write_bitfinex_book(sock, _bitfinex_client(_SEQ_ALL | _BULK_UPDATES, subscribe), 20, 50)
    # Skip info, conf, subscribed and the snapshot; keep the BULK update frames (not the cs frames).
    bf_book = [frame for frame in _split_server_frames(sock.data)[4:] if b'"cs"' not in frame]
    return [
        FrameSet("Backpack synthetic: trade (matrix)", "backpack", bp_trades),
        FrameSet("Backpack synthetic: depth 50+50 levels (matrix)", "backpack", bp_depth),
        FrameSet("Bitfinex synthetic: te, SEQ_ALL (matrix)", "bitfinex", bf_trades),
        FrameSet("Bitfinex synthetic: BULK 50-entry book update (matrix)", "bitfinex", bf_book),
    ]


# ================================================================================ decoders
def _msgspec() -> tuple[str, Decode, Decode] | None:
    """(version, ``Decoder().decode``, ``Decoder(float_hook=str).decode``), or None without msgspec."""
    try:
        import msgspec  # type: ignore[import-not-found, unused-ignore]  # optional
    except ImportError:
        return None
    version: str = msgspec.__version__
    return version, msgspec.json.Decoder().decode, msgspec.json.Decoder(float_hook=str).decode


def decoders_by_exchange(plain: Decode, texts: Decode) -> dict[str, list[Decoder]]:
    """Decoders per exchange: reference, current, candidates.  ``plain`` is msgspec's
    ``Decoder().decode``, ``texts`` its ``Decoder(float_hook=str).decode``."""
    return {
        "backpack": [
            Decoder("json.loads", json.loads),
            Decoder("stdlib make_loads()", make_loads(engine="stdlib"), "current"),
            Decoder("msgspec Decoder()", plain, "candidate"),
            Decoder("msgspec Decoder(float_hook=str)", texts, "candidate"),
            Decoder("msgspec make_loads() [shipped]", make_loads(engine="msgspec"), "candidate"),
        ],
        "bitfinex": [
            Decoder("json.loads", json.loads),
            Decoder("stdlib make_loads(parse_float=str)", make_loads(str, engine="stdlib"), "current"),
            Decoder("msgspec Decoder(float_hook=str)", texts, "candidate"),
            Decoder("msgspec make_loads(parse_float=str) [shipped]", make_loads(str, engine="msgspec"), "candidate"),
        ],
    }


# ================================================================================ timing
def _run(decode: Decode, frames: Sequence[bytes], passes: int) -> float:
    gc.collect()
    start = time.perf_counter()
    for _ in range(passes):
        for frame in frames:
            decode(frame)
    return time.perf_counter() - start


def time_set(frame_set: FrameSet, decoders: Sequence[Decoder], repeats: int, min_time: float) -> Timing:
    """Best-of-``repeats`` microseconds per frame of every decoder on ``frame_set``."""
    frames = frame_set.frames
    current = next(d for d in decoders if d.role == "current")
    one = _run(current.decode, frames, 1)
    passes = max(1, round(min_time / max(one, 1e-9)))
    for decoder in decoders:  # warm-up
        _run(decoder.decode, frames, passes)
    best = {d.label: float("inf") for d in decoders}
    for r in range(repeats):
        for k in range(len(decoders)):
            decoder = decoders[(r + k) % len(decoders)]
            best[decoder.label] = min(best[decoder.label], _run(decoder.decode, frames, passes))
    timing = Timing(frame_set, passes)
    for label, seconds in best.items():
        timing.us[label] = seconds / (passes * len(frames)) * 1e6
    return timing


# ================================================================================ identity
def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """Where ``b`` differs from ``a`` (value, type, dict key order, float repr), or None."""
    if type(a) is not type(b):
        return f"at {path or 'top'}: {type(a).__name__} {a!r:.40} vs {type(b).__name__} {b!r:.40}"
    if isinstance(a, dict):
        if list(a) != list(b):
            return f"at {path or 'top'}: keys {list(a)!r:.60} vs {list(b)!r:.60}"
        for key in a:
            found = first_difference(a[key], b[key], f"{path}[{key!r}]")
            if found:
                return found
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"at {path or 'top'}: {len(a)} vs {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    if isinstance(a, float):
        return None if repr(a) == repr(b) else f"at {path or 'top'}: {a!r} vs {b!r}"
    return None if a == b else f"at {path or 'top'}: {a!r:.40} vs {b!r:.40}"


def compare_set(frame_set: FrameSet, current: Decode, candidate: Decode) -> tuple[int, list[str]]:
    """(frames decoded identically, descriptions of the first few differences)."""
    same = 0
    differences: list[str] = []
    for index, frame in enumerate(frame_set.frames):
        a, b = current(frame), candidate(frame)
        found = first_difference(a, b)
        if found is None and a == b:
            same += 1
        elif len(differences) < 3:
            differences.append(f"frame {index}: {found or '== is False'}")
    return same, differences


# ================================================================================ hostile input
@dataclass(frozen=True)
class Hostile:
    label: str
    frame: bytes
    expected: str  # what the clients rely on: "ValueError", "accepted" or "" (no requirement)


HOSTILE: tuple[Hostile, ...] = (
    Hostile("NaN", b"[1,NaN]", "ValueError"),
    Hostile("Infinity", b"[1,Infinity]", "ValueError"),
    Hostile("-Infinity", b"[1,-Infinity]", "ValueError"),
    Hostile("nesting 100000 deep [[[..]]]", b"[" * 100_000 + b"]" * 100_000, "ValueError"),
    Hostile("nesting 990 deep [[[..]]]", b"[" * 990 + b"]" * 990, ""),
    Hostile('invalid UTF-8 "\\xff"', b'{"s":"\xff"}', "ValueError"),
    Hostile("UTF-8-encoded surrogate ED A0 80", b'{"s":"\xed\xa0\x80"}', "ValueError"),
    Hostile("trailing garbage", b'{"a":1}x', "ValueError"),
    Hostile("two values [1] [2]", b"[1] [2]", "ValueError"),
    Hostile("trailing whitespace", b'{"a":1} \r\n\t', "accepted"),
    Hostile("leading whitespace", b' \n{"a":1}', "accepted"),
    Hostile('lone surrogate escape "\\ud800"', b'{"s":"\\ud800"}', ""),
    Hostile("duplicate keys {a:1,a:2}", b'{"a":1,"a":2}', ""),
    Hostile("integer of 5001 digits", b"[1" + b"0" * 5000 + b"]", "ValueError"),
    Hostile("float overflow 1e400", b"[1e400]", ""),
    Hostile("empty frame", b"", "ValueError"),
)


def outcome(decode: Decode, frame: bytes) -> tuple[str, str]:
    """(kind, text): kind is "ValueError", "accepted" or "other"."""
    try:
        value = decode(frame)
    except ValueError as exc:
        return "ValueError", type(exc).__name__
    except (RecursionError, TypeError, OverflowError, MemoryError) as exc:
        return "other", f"{type(exc).__name__}!"
    text = repr(value)
    if len(text) > 24:
        text = f"{type(value).__name__}, {len(text)} chars"
    return "accepted", f"ok: {text}"


def _joined(results: Sequence[tuple[str, str]]) -> str:
    texts = [text for _, text in results]
    return texts[0] if len(set(texts)) == 1 else " | ".join(texts)


# ================================================================================ report
def _versions(msgspec_version: str) -> str:
    from .. import __version__

    return (
        f"bpbfx {__version__}, Python {platform.python_version()} ({platform.python_implementation()}), "
        f"msgspec {msgspec_version}"
    )


def _check_float_hook(current: Decode, texts: Decode, out: Callable[[str], None]) -> bool:
    frame = b"[1e-8,0.10,-0.0,1.50E+3,7e-7,-0,100,118910,-0.0125]"
    expected: list[Any] = ["1e-8", "0.10", "-0.0", "1.50E+3", "7e-7", 0, 100, 118910, "-0.0125"]
    got_current, got_texts = current(frame), texts(frame)
    ok = first_difference(expected, got_texts) is None and first_difference(expected, got_current) is None
    out(f"float_hook receives the literal text: {frame.decode()}")
    out(f"  make_loads(parse_float=str)      -> {got_current!r}")
    out(f"  msgspec Decoder(float_hook=str)  -> {got_texts!r}")
    out(f"  exact text and int/str types as expected: {'yes' if ok else 'NO'}")
    return ok


def _check_checksums(data_dir: Path, decoders: Sequence[Decoder], out: Callable[[str], None]) -> bool:
    """Feed the checksum vectors through BitfinexBook with each decoder's output."""
    ok = True
    results = []
    for decoder in decoders:
        matched = 0
        vectors = _checksum_vectors(data_dir)
        for vector in vectors:
            frames = [decoder.decode(frame.encode()) for frame in vector["frames"]]
            book = BitfinexBook(vector["symbol"], "P0", 25)
            book.apply_snapshot(frames[0][1])
            for update in frames[1:-1]:
                book.apply_update(update[1])
            matched += book.checksum() == frames[-1][2] == vector["checksum"]
        ok &= matched == len(vectors)
        results.append(f"{decoder.label} {matched}/{len(vectors)}")
    out("Bitfinex checksum vectors through BitfinexBook (cs matched): " + ", ".join(results))
    return ok


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Run the benchmark and print the report; returns 0, 1 if msgspec changes a decoded value
    or a check fails, 2 if it cannot run (no msgspec, no data).  ``prog``: the program name of
    the usage line.

    Raises:
        SystemExit: from argument parsing (``--help``, or an invalid option).
    """
    parser = argparse.ArgumentParser(prog=prog, description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="recordings directory (default: the repository's tests/data)"
    )
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per decoder and frame set (best reported)")
    parser.add_argument("--min-time", type=float, default=0.04, help="seconds of one timed run (sets the pass count)")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.min_time <= 0:
        parser.error("need --repeats >= 1 and --min-time > 0")
    loaded = _msgspec()
    if loaded is None:
        print("msgspec is not installed (pip install msgspec); there is nothing to compare against.", file=sys.stderr)
        return 2
    if not (args.data / "bitfinex").is_dir() or not (args.data / "backpack").is_dir():
        print(f"data directory not found: {args.data} (use --data)", file=sys.stderr)
        return 2
    msgspec_version, plain, texts = loaded
    by_exchange = decoders_by_exchange(plain, texts)

    def out(text: str = "") -> None:
        print(text, flush=True)

    out("bpbfx decoder benchmark: make_loads (stdlib scanner) against msgspec")
    out(f"  machine:  {machine_line()}")
    out(f"  software: {_versions(msgspec_version)}")
    out("  method:   every frame given as bytes; one thread; time.perf_counter around a loop of P passes")
    out(f"            over the set (P: one run of the current decoder lasts {args.min_time * 1000:.0f} ms); 1 untimed")
    out(f"            warm-up run per decoder, then {args.repeats} timed runs each, interleaved with a rotating")
    out("            order, gc.collect() before each run, gc enabled; best run reported (us per frame,")
    out("            loop overhead included); 'x current' = time / the current decoder's time")
    out("            current: the stdlib engine, make_loads(engine='stdlib') for Backpack and")
    out("            make_loads(parse_float=str, engine='stdlib') for Bitfinex; [shipped]: make_loads with")
    out("            the msgspec engine, the clients' default")
    out("            identical: == and same types at every level, same key order, same float repr")
    out()

    started = time.monotonic()
    status = 0
    if not _check_float_hook(make_loads(str, engine="stdlib"), texts, out):
        status = 1
    if not _check_checksums(args.data, by_exchange["bitfinex"][1:], out):
        status = 1
    out()

    sets = recorded_sets(args.data) + synthetic_sets()
    summary: list[str] = []
    head = f"  {'decoder':<40} {'us/frame':>9} {'frames/s':>12} {'x current':>10} {'delta us':>9} {'delta':>7}"
    out("Decode time per frame set")
    for frame_set in sets:
        decoders = by_exchange[frame_set.exchange]
        current = next(d for d in decoders if d.role == "current")
        timing = time_set(frame_set, decoders, args.repeats, args.min_time)
        size = f"{len(frame_set.frames):,} frames, {frame_set.mean_bytes:,.0f} B mean"
        out(f"{frame_set.label}: {size}, P={timing.passes}")
        out(head)
        base = timing.us[current.label]
        for decoder in decoders:
            us = timing.us[decoder.label]
            tag = f" [{decoder.role}]" if decoder.role == "current" else ""
            line = f"  {decoder.label + tag:<40} {us:>9.3f} {1e6 / us:>12,.0f} {us / base:>9.2f}x"
            if decoder.role != "current":
                line += f" {us - base:>+9.3f} {(us / base - 1) * 100:>+6.1f}%"
            if decoder.role == "candidate":
                same, differences = compare_set(frame_set, current.decode, decoder.decode)
                line += f"  identical {same}/{len(frame_set.frames)}"
                if same != len(frame_set.frames):
                    status = 1
                summary.append(
                    f"  {frame_set.label:<56} {decoder.label:<39} {us - base:>+7.3f} us {(us / base - 1) * 100:>+6.1f}%"
                    f"  identical {same}/{len(frame_set.frames)}"
                )
                out(line)
                for difference in differences:
                    out(f"      differs: {difference}")
            else:
                out(line)
        out()

    out("Hostile input: what each decoder does with the frame (JSONDecodeError, UnicodeDecodeError and")
    out("msgspec's DecodeError and ValidationError are ValueErrors; '!': not a ValueError, escapes")
    out("'except ValueError')")
    variants = ("Backpack", "Bitfinex")
    currents = [by_exchange["backpack"][1], by_exchange["bitfinex"][1]]
    candidates = [by_exchange["backpack"][2], by_exchange["bitfinex"][2]]
    wrappers = [by_exchange["backpack"][4], by_exchange["bitfinex"][3]]
    out("  current = stdlib make_loads() | make_loads(parse_float=str); msgspec = Decoder() | Decoder(float_hook=str)")
    out("  (one text when both agree); 'needed': what the clients rely on; 'same': msgspec does what current does")
    out(f"  {'frame':<33} {'needed':<10} {'json.loads':<20} {'current':<25} {'msgspec':<31} same")
    differing: list[str] = []
    notes: list[str] = []
    for case in HOSTILE:
        reference = outcome(json.loads, case.frame)
        now = [outcome(d.decode, case.frame) for d in currents]
        new = [outcome(d.decode, case.frame) for d in candidates]
        unlike = [
            name
            for name, (k1, t1), (k2, t2) in zip(variants, now, new, strict=True)
            if k1 != k2 or (k1 == "accepted" and t1 != t2)
        ]
        mark = "yes" if not unlike else f"NO ({' and '.join(unlike)})"
        if case.expected and any(kind != case.expected for kind, _ in new):
            mark += ", msgspec misses 'needed'"
        if mark != "yes":
            differing.append(case.label)
        columns = f"{case.expected or '-':<10} {reference[1]:<20} {_joined(now):<25} {_joined(new):<31}"
        out(f"  {case.label:<33} {columns} {mark}")
        fixed = [outcome(d.decode, case.frame) for d in wrappers]
        if fixed != new:
            notes.append(f"  {case.label}: shipped msgspec make_loads (RecursionError -> ValueError): {_joined(fixed)}")
    out("\n".join(notes) if notes else "  (the shipped msgspec decoders behave like the plain ones on every frame)")
    out()

    out("Summary: msgspec against the current decoder (negative delta = msgspec faster)")
    for line in summary:
        out(line)
    out(f"  hostile frames handled differently: {', '.join(differing) if differing else 'none'}")
    out(f"  total time {time.monotonic() - started:.1f} s")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
