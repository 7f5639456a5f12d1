"""``bpbfx replay``: a recording through a client's decode path (printed like ``stream``), or
served over WebSocket (``--serve``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..exceptions import BpbfxError
from ..factory import EXCHANGES, private_streams
from .errors import EXIT_OK, CommandError, Terminated, UsageError, interrupted_status
from .printers import ErrorPrinter, EventPrinter
from .session import build_client
from .sim import serve_until_stopped

if TYPE_CHECKING:
    from ..recording import Record

__all__ = ["cmd_replay", "detect_exchange"]


def detect_exchange(frames: Sequence[str]) -> str | None:
    """Guess the exchange from raw frames: Bitfinex sends arrays and ``{"event":...}``,
    Backpack ``{"stream":..,"data":..}`` and ``{"id":..,"error":..}``."""
    for text in frames[:200]:
        try:
            msg = json.loads(text)
        except ValueError:
            continue
        if isinstance(msg, list):
            return "bitfinex"
        if isinstance(msg, dict):
            if "event" in msg:
                return "bitfinex"
            if "stream" in msg and "data" in msg:
                return "backpack"
            if "error" in msg and "id" in msg:
                return "backpack"
    return None


def _load_any(paths: Sequence[str], exchange: str | None) -> tuple[str, list[Record], dict[str, Any] | None]:
    """Records and exchange of recordings in any format ``bpbfx.sim.replay.load_frames`` reads."""
    from ..recording import Record, RecordingError, is_recording, read_recording

    try:
        if all(is_recording(p) for p in paths):
            recording = read_recording(paths)
            found = recording.exchange
            if exchange and found and exchange != found:
                raise UsageError(f"{paths[0]} was recorded from {found}, not {exchange} (drop --exchange)")
            chosen = exchange or found
            if chosen not in EXCHANGES:
                raise UsageError(f"{paths[0]}: unknown exchange {chosen!r}; pass --exchange backpack|bitfinex")
            if recording.truncated:
                print(f"bpbfx replay: {paths[0]}: the recording ends early (truncated); replaying what it holds",
                      file=sys.stderr)
            header = dict(recording.header) if recording.header is not None else None
            return chosen, list(recording.records), header
    except RecordingError as exc:
        raise CommandError(exc.message) from None
    try:
        from ..sim.replay import load_frames
    except ImportError as exc:
        raise CommandError(
            f"reading this file format needs bpbfx.sim.replay ({exc}); pip install 'bpbfx[sim]'"
        ) from None
    frames: list[tuple[float | None, str]] = []
    for p in paths:
        try:
            frames.extend(load_frames(p))
        except (ValueError, KeyError) as exc:
            raise CommandError(f"{p}: not a recording bpbfx can read: {exc}") from None
    chosen = exchange or detect_exchange([text for _, text in frames])
    if chosen is None:
        raise UsageError(f"cannot tell which exchange {paths[0]} comes from; pass --exchange backpack|bitfinex")
    records = [Record("frame", ts, chosen, 0, text, {}) for ts, text in frames]
    return chosen, records, None


def _announced_channels(records: Sequence[Record]) -> list[str]:
    """Streams announced by the ``subscribed`` frames of a Bitfinex recording without a
    header: the replaying client subscribes them, so it takes those channels (a client only
    accepts the channels it asked for) and keeps and verifies their books."""
    from ..bitfinex.channels import from_message

    streams: dict[str, None] = {}
    for record in records:
        text = record.data
        if not text or '"subscribed"' not in text:
            continue
        try:
            msg = json.loads(text)
            sub = from_message(msg)
        except (ValueError, BpbfxError):
            continue
        streams[sub.stream] = None
    return list(streams)


def cmd_replay(args: argparse.Namespace) -> int:
    """``bpbfx replay``: feed a recording through a client's decode path, or serve it (main
    thread).

    Raises:
        UsageError: a missing file, a file of the other exchange, ``--book`` on Backpack.
        CommandError: an unreadable file, or the server could not start.
    """
    for p in args.files:
        if not os.path.isfile(p):
            raise UsageError(f"no such file: {p} (FILE: a recording written by bpbfx record, raw JSON lines of "
                             "frames, or a cryptofeed capture)")
    if args.serve:
        return _replay_serve(args)
    from ..recording import feed_records

    speed = None if args.as_fast_as_possible else args.speed
    exchange, records, header = _load_any(args.files, args.exchange)
    if args.book and exchange == "backpack":
        raise UsageError("Backpack books are seeded from REST snapshots, which recordings do not hold; drop --book")
    output = EventPrinter(sys.stdout, pretty=args.pretty, limit=args.max_events)
    errors = ErrorPrinter("bpbfx replay")
    errors.opened.set()
    hooks: dict[str, Any] = {"on_message": output.event, "on_error": errors}
    if args.book:
        hooks["on_book"] = output.book
    streams = [str(s) for s in (header or {}).get("streams") or ()]
    if header is None and exchange == "bitfinex":
        streams = _announced_channels(records)
    flags = (header or {}).get("flags")
    if any(r.kind == "backfill" for r in records):
        # The recording client fetched trades it had missed: replay them the same way.
        hooks["backfill_trades"] = True
    client = build_client(
        exchange,
        [s for s in streams if s not in private_streams(exchange, streams)],  # a replay never authenticates
        url="ws://127.0.0.1:9/replay",  # never connected: the client is fed, not started
        books=exchange == "bitfinex",
        hooks=hooks,
        flags=flags if isinstance(flags, int) else None,
    )
    try:
        result = feed_records(client, records, speed=speed, stop=output.done)
    except (KeyboardInterrupt, Terminated) as exc:
        client.close()
        output.flush()
        return interrupted_status(exc, True)
    stats = client.stats()
    client.close()
    output.flush()
    backfills = f", {result.backfills} trade backfill answers" if result.backfills else ""
    errors.print(
        f"replayed {result.frames} frames and {result.lifecycle} connection records{backfills} from {exchange}: "
        f"{output.count} lines, {errors.count} errors, {stats.book_checks} book checks"
    )
    return EXIT_OK


def _replay_serve(args: argparse.Namespace) -> int:
    try:
        from ..sim.replay import ReplayServer
    except ImportError as exc:
        if "websockets" in str(exc):
            raise CommandError("serving a replay needs the 'websockets' package: pip install 'bpbfx[sim]'") from None
        raise CommandError(f"bpbfx.sim.replay is not available: {exc}") from None
    speed = None if args.as_fast_as_possible else (args.speed if args.speed is not None else 1.0)
    source: Any = args.files[0]
    if len(args.files) > 1:
        from ..sim.replay import load_frames

        source = [frame for p in args.files for frame in load_frames(p)]
    try:
        server = ReplayServer(source, speed=speed, port=args.port)
        server.start()
    except OSError as exc:
        raise CommandError(f"could not serve on port {args.port} (--port): {exc.strerror or exc}") from None
    except ValueError as exc:
        raise CommandError(f"{args.files[0]}: {exc}") from None
    return serve_until_stopped(f"replay server: {server.url}", server.stop)
