"""Record every raw frame a client receives, and read or replay such recordings.

A recording is a text file of JSON lines (optionally gzip-compressed), one object per line:

.. code-block:: text

    {"kind":"header","exchange":"backpack","streams":["depth.SOL_USDC"],"bpbfx":"0.1.0","format":1,"ts":1736172778.1,"part":0}
    {"ts":1736172778.162587,"kind":"open","exchange":"backpack","conn":0}
    {"ts":1736172778.163011,"kind":"frame","exchange":"backpack","conn":0,"data":"{\\"stream\\":\\"depth.SOL_USDC\\",...}"}
    {"ts":1736172781.002113,"kind":"close","exchange":"backpack","conn":0,"code":null,"reason":"connection lost"}
    {"ts":1736172781.002301,"kind":"reconnect","exchange":"backpack","conn":0,"attempt":1}
    {"ts":1736172781.401220,"kind":"open","exchange":"backpack","conn":0}
    {"ts":1736172781.452008,"kind":"backfill","exchange":"backpack","stream":"trade.SOL_USDC","data":"[{\\"id\\":...}]"}

- ``header`` comes first: the exchange, the streams asked for, the bpbfx version, the format
  number and ``part`` (0, or the index of a rotated file).
- ``frame``: one WebSocket frame exactly as received (``data``, the frame text; a frame that is
  not UTF-8 is kept as ``data_b64``), with ``ts`` the receive time in Unix seconds and ``conn``
  the client's socket index (Bitfinex spreads channels over several sockets).
- ``open``, ``close`` (``code``, ``reason``; ``final`` when the client itself was closed) and
  ``reconnect`` (``attempt``): the connection's life, so that a reconnect is recorded, not
  hidden.  ``conn`` is ``null`` when the socket could not be told apart (a client with several
  sockets, before the first frame of that socket).
- ``backfill``: the text of a REST trade-history answer (``data``) from which a trade backfill
  (``backfill_trades=True``) delivered trades of ``stream``, written before those trades were
  delivered; replayed through ``client.feed_backfill``, it gives the same backfilled events.

:class:`Recorder` writes the format (thread-safe; rotation and gzip), :func:`iter_records` and
:func:`read_recording` read it, and :func:`feed_records` plays records through a client that is
never started (``client.feed``), so the same decode path, books and callbacks run as live.

Everything here is plain Python (no network, no third-party imports).
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import logging
import os
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .base import BaseClient
from .exceptions import ClientClosedError, RecordingError

__all__ = [
    "FORMAT_VERSION",
    "FeedResult",
    "Record",
    "Recorder",
    "Recording",
    "RecordingError",
    "feed_records",
    "is_recording",
    "iter_records",
    "part_path",
    "read_recording",
]

log = logging.getLogger("bpbfx")

FORMAT_VERSION = 1
"""Version of the recording format written by :class:`Recorder` (the header's ``format``)."""

_GZIP_MAGIC = b"\x1f\x8b"
_LIFECYCLE = ("open", "close", "reconnect")
BACKFILL = "backfill"
"""Record kind of a trade backfill's REST answer."""


# ------------------------------------------------------------------------------------------ records
@dataclass(frozen=True, slots=True)
class Record:
    """One line of a recording.

    Attributes:
        kind: ``"header"``, ``"frame"``, ``"open"``, ``"close"``, ``"reconnect"``,
            ``"backfill"`` (other kinds written by newer versions are kept as they are).
        ts: receive time, Unix seconds (``None`` when the line has none).
        exchange: ``"backpack"`` or ``"bitfinex"`` (``None`` when absent).
        conn: socket index of the client (``None`` when unknown or not applicable).
        data: the frame text for ``frame`` records, the REST answer's text for ``backfill``
            records, else ``None``.
        fields: the whole decoded line.
    """

    kind: str
    ts: float | None
    exchange: str | None
    conn: int | None
    data: str | None
    fields: Mapping[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Recording:
    """A whole recording in memory (see :func:`read_recording`).

    Attributes:
        header: the header line, or ``None`` for a file without one.
        records: every other record, in file order.
        truncated: the file ended mid-line or mid-stream (a recorder that was killed); the
            records before that point are complete.
    """

    header: Mapping[str, Any] | None
    records: tuple[Record, ...]
    truncated: bool = False

    @property
    def exchange(self) -> str | None:
        """The exchange named by the header (or by the first record that names one)."""
        if self.header is not None and self.header.get("exchange"):
            return str(self.header["exchange"])
        return next((r.exchange for r in self.records if r.exchange), None)

    @property
    def streams(self) -> tuple[str, ...]:
        """The streams the header lists (empty without a header)."""
        if self.header is None:
            return ()
        return tuple(str(s) for s in self.header.get("streams") or ())

    @property
    def frames(self) -> int:
        """How many frame records there are."""
        return sum(1 for r in self.records if r.kind == "frame")

    @property
    def backfills(self) -> int:
        """How many ``backfill`` records there are (trade backfill answers)."""
        return sum(1 for r in self.records if r.kind == BACKFILL)


def _open_text(path: Path) -> IO[str]:
    """Open a recording for reading, gzip or not (decided by the file's first bytes)."""
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == _GZIP_MAGIC:
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="\n")
    return open(path, encoding="utf-8", newline="\n")


def _record(obj: Mapping[str, Any]) -> Record:
    kind = obj.get("kind")
    ts = obj.get("ts")
    conn = obj.get("conn")
    exchange = obj.get("exchange")
    data: str | None = None
    if kind == "frame":
        raw = obj.get("data")
        if isinstance(raw, str):
            data = raw
        else:
            b64 = obj.get("data_b64")
            if not isinstance(b64, str):
                raise ValueError("frame record without data")
            data = base64.b64decode(b64).decode("utf-8", "replace")
    elif kind == BACKFILL:
        raw = obj.get("data")
        if not isinstance(raw, str) or not isinstance(obj.get("stream"), str):
            raise ValueError("backfill record without stream and data")
        data = raw
    return Record(
        kind=str(kind),
        ts=float(ts) if isinstance(ts, (int, float)) and not isinstance(ts, bool) else None,
        exchange=str(exchange) if isinstance(exchange, str) else None,
        conn=conn if isinstance(conn, int) and not isinstance(conn, bool) else None,
        data=data,
        fields=obj,
    )


class _Truncation:
    """Set by :func:`_iter` when the file ends early."""

    __slots__ = ("line", "reason")

    def __init__(self) -> None:
        self.line: int | None = None
        self.reason = ""


def _iter(p: Path, truncation: _Truncation) -> Iterator[Record]:
    with _open_text(p) as fh:
        number = 0
        while True:
            try:
                line = fh.readline()
            except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
                truncation.line, truncation.reason = number, f"compressed stream ends early ({exc})"
                return
            if not line:
                return
            number += 1
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict) or not isinstance(obj.get("kind"), str):
                    raise ValueError("not a recording record (a JSON object with a 'kind')")
                record = _record(obj)
            except ValueError as exc:
                if not line.endswith("\n"):
                    truncation.line, truncation.reason = number, "last line incomplete"
                    return
                raise RecordingError(f"{p}:{number}: {exc}", path=str(p), line=number) from exc
            yield record


def iter_records(path: str | os.PathLike[str], *, strict: bool = False) -> Iterator[Record]:
    """Yield the records of a recording (the header included), gzip or plain.

    A last line cut short, or a gzip stream that ends early (the recorder was killed), ends the
    iteration with a warning on the ``bpbfx`` logger, unless ``strict``.  Runs on the calling
    thread.

    Raises:
        RecordingError: a line is not a record (with its line number), or, with ``strict``,
            the file is truncated.
        OSError: the file cannot be read.
    """
    p = Path(path)
    truncation = _Truncation()
    yield from _iter(p, truncation)
    if truncation.line is not None:
        if strict:
            raise RecordingError(f"{p}: truncated after line {truncation.line}: {truncation.reason}", path=str(p),
                                 line=truncation.line)
        log.warning("%s: truncated after line %d: %s", p, truncation.line, truncation.reason)


def read_recording(path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> Recording:
    """Read a whole recording, or the parts of a rotated one in order.

    The parts' headers must name the same exchange; the first header is kept.  A truncated
    file (the recorder was killed) yields what it holds, with ``truncated`` set.

    Raises:
        RecordingError: malformed content, or parts recorded from different exchanges.
        OSError: a file cannot be read.
    """
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    header: dict[str, Any] | None = None
    records: list[Record] = []
    truncated = False
    for p in paths:
        truncation = _Truncation()
        for record in _iter(Path(p), truncation):
            if record.kind != "header":
                records.append(record)
            elif header is None:
                header = dict(record.fields)
            elif header.get("exchange") != record.fields.get("exchange"):
                raise RecordingError(
                    f"{p}: recorded from {record.fields.get('exchange')!r}, but the first part is from "
                    f"{header.get('exchange')!r}",
                    path=str(p),
                )
        truncated = truncated or truncation.line is not None
    return Recording(header=header, records=tuple(records), truncated=truncated)


def is_recording(path: str | os.PathLike[str]) -> bool:
    """True when the file starts with a bpbfx recording header (gzip or plain).

    Raises:
        OSError: the file cannot be read.
    """
    try:
        with _open_text(Path(path)) as fh:
            first = fh.readline()
    except (EOFError, zlib.error, gzip.BadGzipFile, UnicodeDecodeError):
        return False
    try:
        obj = json.loads(first)
    except ValueError:
        return False
    return isinstance(obj, dict) and obj.get("kind") == "header"


# ------------------------------------------------------------------------------------------ writing
def part_path(path: str | os.PathLike[str], part: int) -> Path:
    """The file name of part ``part`` of a rotated recording.

    Part 0 is ``path`` itself; part ``n`` puts ``.NNNN`` before the extension:
    ``rec.jsonl`` -> ``rec.0001.jsonl``, ``rec.jsonl.gz`` -> ``rec.0001.jsonl.gz``.
    """
    p = Path(path)
    if part == 0:
        return p
    name = p.name
    suffixes = ""
    if name.endswith(".gz"):
        name, suffixes = name[:-3], ".gz"
    stem, dot, ext = name.rpartition(".")
    if dot and stem:
        name, suffixes = stem, f".{ext}{suffixes}"
    return p.with_name(f"{name}.{part:04d}{suffixes}")


class Recorder:
    """Writes a recording: every raw frame a client receives plus its connection's life.

    Args:
        path: file to write (parent directories must exist).  Rotated parts are named by
            :func:`part_path`.
        exchange: ``"backpack"`` or ``"bitfinex"``.
        streams: the streams recorded (written to the header).
        compress: write gzip; ``None`` decides by the ``.gz`` suffix.
        rotate_frames: start a new part (with its own header) after this many frames.
        max_frames: record at most this many frames; :attr:`full` is set when reached and
            later frames are dropped.
        meta: extra header fields (e.g. the URL).
        clock: wall clock for ``ts`` (``time.time``).

    Use :meth:`attach` to record a client, or call :meth:`write_frame` / :meth:`write_event`.
    Every method is thread-safe (one lock around the file); the client's reader threads write
    frames while another thread may :meth:`flush` or :meth:`close`.

    Raises:
        ValueError: ``rotate_frames`` or ``max_frames`` below 1.
        OSError: the file cannot be created.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        exchange: str,
        streams: Iterable[str] = (),
        *,
        compress: bool | None = None,
        rotate_frames: int | None = None,
        max_frames: int | None = None,
        meta: Mapping[str, Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if rotate_frames is not None and rotate_frames < 1:
            raise ValueError(f"rotate_frames must be >= 1, got {rotate_frames!r}")
        if max_frames is not None and max_frames < 1:
            raise ValueError(f"max_frames must be >= 1, got {max_frames!r}")
        from . import __version__

        self.path = Path(path)
        self.exchange = exchange
        self.streams = tuple(streams)
        self.compress = self.path.name.endswith(".gz") if compress is None else compress
        self.rotate_frames = rotate_frames
        self.max_frames = max_frames
        self.meta = dict(meta or {})
        self.version = __version__
        self.clock = clock
        self.full = threading.Event()
        self.paths: list[Path] = []
        self.frames = 0
        self.events = 0
        self._part_frames = 0
        self._lock = threading.Lock()
        self._fh: IO[str] | None = None
        self._closed = False
        self._exchange_json = json.dumps(exchange)
        self._thread_conn: dict[int, int] = {}
        self._open_part()

    def __repr__(self) -> str:
        return f"<Recorder {self.path} {self.exchange} frames={self.frames} parts={len(self.paths)}>"

    # -------------------------------------------------------------- file handling (under the lock)
    def _open_part(self) -> None:
        part = len(self.paths)
        path = part_path(self.path, part)
        if self.compress:
            fh: IO[str] = io.TextIOWrapper(gzip.open(path, "wb", compresslevel=6), encoding="utf-8", newline="\n")
        else:
            fh = open(path, "w", encoding="utf-8", newline="\n")
        self._fh = fh
        self.paths.append(path)
        self._part_frames = 0
        header: dict[str, Any] = {
            "kind": "header",
            "exchange": self.exchange,
            "streams": list(self.streams),
            "bpbfx": self.version,
            "format": FORMAT_VERSION,
            "ts": round(self.clock(), 6),
            "part": part,
        }
        for key, value in self.meta.items():
            header.setdefault(key, value)
        fh.write(json.dumps(header, separators=(",", ":")) + "\n")

    def _rotate(self) -> None:
        assert self._fh is not None
        self._fh.close()
        self._open_part()

    # -------------------------------------------------------------- writing
    def write_frame(self, data: bytes | str, conn: int = 0, ts: float | None = None) -> bool:
        """Append one received frame (any thread); False when closed or full.

        Raises:
            OSError: the write failed (disk full...).
        """
        when = self.clock() if ts is None else ts
        if isinstance(data, bytes):
            try:
                text: str | None = data.decode("utf-8")
            except UnicodeDecodeError:
                text = None
        else:
            text = data
        if text is not None:
            payload = '"data":' + json.dumps(text)
        else:
            payload = '"data_b64":"' + base64.b64encode(data if isinstance(data, bytes) else b"").decode() + '"'
        line = f'{{"ts":{when:.6f},"kind":"frame","exchange":{self._exchange_json},"conn":{conn:d},{payload}}}\n'
        with self._lock:
            fh = self._fh
            if fh is None or self.full.is_set():
                return False
            fh.write(line)
            self.frames += 1
            self._part_frames += 1
            if self.max_frames is not None and self.frames >= self.max_frames:
                self.full.set()
            elif self.rotate_frames is not None and self._part_frames >= self.rotate_frames:
                self._rotate()
        return True

    def write_event(self, kind: str, conn: int | None = None, ts: float | None = None, **fields: Any) -> bool:
        """Append a lifecycle record (``open``, ``close``, ``reconnect``...); False when closed.

        Any thread.

        Raises:
            OSError: the write failed.
        """
        obj: dict[str, Any] = {
            "ts": round(self.clock() if ts is None else ts, 6),
            "kind": kind,
            "exchange": self.exchange,
            "conn": conn,
        }
        obj.update(fields)
        return self._write_record(json.dumps(obj, separators=(",", ":"), default=str) + "\n")

    def write_backfill(self, stream: str, data: str, ts: float | None = None) -> bool:
        """Append a ``backfill`` record: the text of the REST answer a trade backfill delivered
        trades of ``stream`` from; False when closed.  Any thread.

        Raises:
            OSError: the write failed.
        """
        obj = {"ts": round(self.clock() if ts is None else ts, 6), "kind": BACKFILL, "exchange": self.exchange,
               "stream": stream, "data": data}
        return self._write_record(json.dumps(obj, separators=(",", ":")) + "\n")

    def _write_record(self, line: str) -> bool:
        """Append one record that is not a frame (no rotation, no frame count)."""
        with self._lock:
            if self._fh is None:
                return False
            self._fh.write(line)
            self.events += 1
        return True

    def flush(self) -> None:
        """Push buffered lines to the file (any thread; gzip: a sync flush point)."""
        with self._lock:
            fh = self._fh
            if fh is not None:
                fh.flush()

    def close(self) -> None:
        """Finish the file (idempotent, any thread).  Later writes are ignored."""
        with self._lock:
            fh, self._fh = self._fh, None
            self._closed = True
        if fh is not None:
            fh.close()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has been called."""
        return self._closed

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -------------------------------------------------------------- client wiring
    def attach(self, client: BaseClient) -> None:
        """Record ``client``: its ``on_raw`` hook writes every frame, and its ``on_open``,
        ``on_close`` and ``on_reconnect`` hooks write lifecycle records before calling the hooks
        that were set before (so set your own hooks first); a client with a trade backfill
        (``on_backfill``) also writes its REST answers.  Call before ``client.start()``.
        """
        if hasattr(client, "on_backfill"):
            previous_backfill = client.on_backfill
            write_backfill = self.write_backfill

            def on_backfill(c: Any, stream: str, text: str) -> None:
                write_backfill(stream, text)
                if previous_backfill is not None:
                    previous_backfill(c, stream, text)

            client.on_backfill = on_backfill
        previous_raw = client.on_raw
        previous_open = client.on_open
        previous_close = client.on_close
        previous_reconnect = client.on_reconnect
        thread_conn = self._thread_conn
        get_ident = threading.get_ident
        write = self.write_frame

        def on_raw(c: Any, data: bytes, index: int) -> None:
            tid = get_ident()
            if thread_conn.get(tid) != index:
                thread_conn[tid] = index
            write(data, index)
            if previous_raw is not None:
                previous_raw(c, data, index)

        def on_open(c: Any) -> None:
            self.write_event("open", self._socket_index(client))
            if previous_open is not None:
                previous_open(c)

        def on_close(c: Any, code: int | None, reason: str) -> None:
            if client.closed:
                self.write_event("close", None, code=code, reason=reason, final=True)
            else:
                self.write_event("close", self._socket_index(client), code=code, reason=reason)
            if previous_close is not None:
                previous_close(c, code, reason)

        def on_reconnect(c: Any, attempt: int) -> None:
            self.write_event("reconnect", self._socket_index(client), attempt=attempt)
            if previous_reconnect is not None:
                previous_reconnect(c, attempt)

        client.on_raw = on_raw
        client.on_open = on_open
        client.on_close = on_close
        client.on_reconnect = on_reconnect

    def _socket_index(self, client: BaseClient) -> int | None:
        """The socket whose reader thread is calling: known from its frames, or 0 when the
        client has a single socket; ``None`` otherwise."""
        index = self._thread_conn.get(threading.get_ident())
        if index is not None:
            return index
        return 0 if client.stats().connections <= 1 else None


# ------------------------------------------------------------------------------------------ replay
@dataclass(slots=True)
class FeedResult:
    """What :func:`feed_records` did.

    Attributes:
        frames: frames fed to the client.
        lifecycle: ``open``/``close``/``reconnect`` records played.
        backfills: ``backfill`` records played (``client.feed_backfill``).
        skipped: records that could not be played (unknown socket, unknown kind).
        stopped: the feed ended early (``stop`` was set or the client was closed).
    """

    frames: int = 0
    lifecycle: int = 0
    skipped: int = 0
    backfills: int = 0
    stopped: bool = False


def feed_records(
    client: BaseClient,
    records: Iterable[Record],
    *,
    speed: float | None = None,
    stop: threading.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] | None = None,
) -> FeedResult:
    """Play ``records`` through ``client`` (never started) on the calling thread.

    Frames go through ``client.feed(data, connection=conn)``: the same decode path, books and
    hooks as live.  Lifecycle records are played through the client's transport callbacks, so
    that per-socket state is reset as it was live: ``close`` (``on_connection_closed``, which
    also reports the loss to ``on_error``), ``reconnect`` (``on_reconnect``) and ``open``
    (``on_connection_open``: subscriptions are "sent" to a socket that is not there, which
    does nothing).  A ``final`` close (the recording client was closed) ends nothing here.
    ``backfill`` records go through ``client.feed_backfill(stream, data)`` (a client without
    it, or without ``backfill_trades``, skips them).

    Args:
        speed: ``None`` as fast as possible; ``1.0`` at the recorded pace, ``2.0`` twice as fast.
        stop: set it (from another thread) to end early.
        clock / sleep: time source and sleeper for the pacing (``time.monotonic`` and
            ``stop.wait``/``time.sleep``); injected by tests.

    Callbacks run on the calling thread.  Raises nothing the client reports: errors go to the
    client's ``on_error`` as live.

    Raises:
        ValueError: ``speed`` is not positive.
    """
    if speed is not None and speed <= 0:
        raise ValueError(f"speed must be > 0 (or None for as fast as possible), got {speed!r}")
    stop_event = stop or threading.Event()
    wait: Callable[[float], object] = sleep if sleep is not None else stop_event.wait
    result = FeedResult()
    first_ts: float | None = None
    started = clock()
    feed = client.feed
    for record in records:
        if stop_event.is_set():
            result.stopped = True
            break
        if speed is not None and record.ts is not None:
            if first_ts is None:
                first_ts = record.ts
            due = started + (record.ts - first_ts) / speed
            delay = due - clock()
            if delay > 0:
                wait(delay)
                if stop_event.is_set():
                    result.stopped = True
                    break
        kind = record.kind
        try:
            if kind == "frame":
                assert record.data is not None
                feed(record.data, connection=record.conn or 0)
                result.frames += 1
            elif kind in _LIFECYCLE:
                if _play_lifecycle(client, record):
                    result.lifecycle += 1
                else:
                    result.skipped += 1
            elif kind == BACKFILL:
                if _play_backfill(client, record):
                    result.backfills += 1
                else:
                    result.skipped += 1
            elif kind != "header":
                result.skipped += 1
        except ClientClosedError:
            result.stopped = True
            break
        except IndexError:
            result.skipped += 1
    return result


def _play_backfill(client: BaseClient, record: Record) -> bool:
    """Replay one ``backfill`` record through ``client.feed_backfill``; False when the client
    cannot take it (no backfill, or an answer it cannot read: reported to ``on_error``)."""
    feed = getattr(client, "feed_backfill", None)
    if feed is None or record.data is None:
        return False
    try:
        return bool(feed(str(record.fields["stream"]), record.data))
    except ValueError as exc:
        client.report_error(RecordingError(f"a backfill record could not be replayed: {exc}"))
        return False


def _play_lifecycle(client: BaseClient, record: Record) -> bool:
    """Replay one ``open``/``close``/``reconnect`` record through the transport callbacks."""
    fields = record.fields
    if record.kind == "close" and fields.get("final"):
        return True
    index = record.conn
    if index is None:
        if client.stats().connections > 1:
            return False
        index = 0
    code = fields.get("code")
    attempt = fields.get("attempt")
    try:
        client.feed_lifecycle(
            record.kind,
            index,
            code=code if isinstance(code, int) else None,
            reason=str(fields.get("reason") or "connection closed"),
            attempt=attempt if isinstance(attempt, int) else 1,
        )
    except IndexError:
        return False
    return True
