"""The exports themselves: recordings (:func:`export_parquet`) or published Redis streams
(:func:`export_redis_parquet`) into a partitioned Parquet dataset, on the calling thread."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable, Iterable
from typing import Any

from ..exceptions import MalformedFrameError
from .frames import FrameEvents
from .parquet import STRING, ParquetDataset
from .recordings import Chain, chains
from .report import ExportResult, Problems
from .rows import Emit, EventRows

__all__ = ["Progress", "export_parquet", "export_redis_parquet"]

Progress = Callable[[int, int], object]
"""``progress(done, total)``: bytes of the recordings read (entries for Redis) out of the total."""

_LIFECYCLE = ("open", "close", "reconnect")
_PROGRESS_EVERY = 4096


def _emitter(dataset: ParquetDataset, exchange: str) -> Emit:
    add = dataset.add

    def emit(table: str, symbol: str, receive_time_us: int, rows: list[tuple[Any, ...]]) -> None:
        add(table, exchange, symbol, receive_time_us, rows)

    return emit


def _finish(result: ExportResult, dataset: ParquetDataset, problems: Problems,
            rows: Iterable[EventRows]) -> ExportResult:
    result.files = dataset.close()
    result.rows = dict(dataset.rows)
    not_exported: dict[str, int] = {}
    for er in rows:
        result.duplicates += er.duplicates
        result.control += er.control
        result.unknown += er.unknown
        for name, n in er.not_exported.items():
            not_exported[name] = not_exported.get(name, 0) + n
    result.not_exported = not_exported
    result.skipped = dict(problems.skipped)
    result.warnings = problems.warnings
    result.messages = list(problems.messages)
    return result


def export_parquet(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    output_dir: str | os.PathLike[str],
    *,
    decimals: str = STRING,
    strict: bool = False,
    progress: Progress | None = None,
    on_message: Callable[[str], object] | None = None,
    batch_rows: int = 65_536,
    max_buffered_rows: int = 262_144,
    max_open_files: int = 32,
    compression: str = "zstd",
) -> ExportResult:
    """Export recordings (``bpbfx record``; ``bpbfx collect`` without Redis) to Parquet.

    Writes the tables ``trades``, ``book_snapshots``, ``book_deltas`` and ``tickers`` under
    ``output_dir``, partitioned ``<table>/exchange=.../symbol=.../date=YYYY-MM-DD/``; the guide
    with every column is ``bpbfx/docs/export.md``.  Rotated parts of a recording are put in
    order whatever order they are given in; exporting a recording again replaces the files made
    from it before.

    Args:
        paths: recording files (plain or gzip), in any order.
        output_dir: the dataset's root (created when missing).
        decimals: ``"string"`` (prices and sizes as the exchange's text, the default) or
            ``"decimal128"`` (``decimal128(38, 18)``: a value that does not fit raises).
        strict: raise at the first bad line instead of counting it and going on.
        progress: ``progress(bytes read, bytes in total)``, called now and then.
        on_message: receives each message about a skip or a warning as it happens.
        batch_rows / max_buffered_rows / max_open_files / compression: see
            :class:`~bpbfx.export.parquet.ParquetDataset` (they bound memory).

    Runs on the calling thread, and so do ``progress`` and ``on_message``.

    Raises:
        RecordingError: a file is not a recording; with ``strict``, a bad line; a value that
            does not fit ``decimal128``; the output cannot be written.
        ConfigurationError: a bad option.
        OSError: a file cannot be read.
    """
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    found = chains(items)
    problems = Problems(strict=strict, on_message=on_message)
    dataset = ParquetDataset(output_dir, decimals=decimals, batch_rows=batch_rows,
                             max_buffered_rows=max_buffered_rows, max_open_files=max_open_files,
                             compression=compression)
    rows = {ex: EventRows(ex, _emitter(dataset, ex)) for ex in ("backpack", "bitfinex")}
    result = ExportResult(inputs=sum(len(c.parts) for c in found))
    total = sum(c.size for c in found)
    done = 0
    try:
        for chain in found:
            result.records += _export_chain(chain, dataset, rows[chain.exchange], problems, progress, done, total)
            done += chain.size
            if progress is not None:
                progress(done, total)
    except BaseException:
        dataset.abort()
        raise
    return _finish(result, dataset, problems, rows.values())


def _frame(obj: dict[str, Any]) -> tuple[str, int, int] | None:
    """``(frame text, socket, receive time in microseconds)`` of a frame record (see
    :mod:`bpbfx.recording`), or None when it lacks one of them."""
    ts, conn, text = obj.get("ts"), obj.get("conn", 0), obj.get("data")
    if type(text) is not str:
        b64 = obj.get("data_b64")
        try:
            text = base64.b64decode(b64, validate=True).decode("utf-8", "replace") if type(b64) is str else None
        except ValueError:
            text = None
    if text is None or not isinstance(ts, (float, int)) or isinstance(ts, bool):
        return None
    if conn is not None and (not isinstance(conn, int) or isinstance(conn, bool)):
        return None
    return text, conn or 0, round(ts * 1_000_000)


def _export_chain(chain: Chain, dataset: ParquetDataset, rows: EventRows, problems: Problems,
                  progress: Progress | None, done: int, total: int) -> int:
    """Rows of one recording (all its parts); returns the records read."""
    dataset.begin(chain.tag)
    frames = FrameEvents(chain.exchange, problems)
    rows.forget_snapshots()
    records = 0
    event_rows = rows.event
    for part in chain.parts:
        path = part.path
        for number, obj in part.records(problems):
            records += 1
            if progress is not None and records % _PROGRESS_EVERY == 0:
                progress(done + chain.position, total)
            kind = obj["kind"]
            if kind == "frame":
                frame = _frame(obj)
                if frame is None:
                    problems.skip("malformed line", f"{path}:{number}: a frame record needs ts, conn and data",
                                  path=str(path), line=number)
                    continue
                text, conn, rt = frame
                try:
                    event = frames.frame(text, conn, f"{path}:{number}")
                except MalformedFrameError as exc:
                    problems.skip("malformed frame", f"{path}:{number}: {exc}", path=str(path), line=number)
                    continue
                if event is None:
                    rows.control += 1
                else:
                    event_rows(event, rt)
            elif kind == "backfill":
                stream, data, ts = obj.get("stream"), obj.get("data"), obj.get("ts")
                if not isinstance(stream, str) or not isinstance(data, str) or not isinstance(ts, (int, float)):
                    problems.skip("malformed line", f"{path}:{number}: a backfill record needs ts, stream and data",
                                  path=str(path), line=number)
                    continue
                try:
                    trades = frames.backfill(stream, data)
                except ValueError as exc:
                    problems.skip("malformed frame", f"{path}:{number}: {exc}", path=str(path), line=number)
                    continue
                for event in trades:
                    event_rows(event, round(ts * 1_000_000))
            elif kind in _LIFECYCLE:
                socket = obj.get("conn")
                rows.forget_snapshots(frames.lifecycle(kind, socket if type(socket) is int else None))
            elif kind == "header":
                if obj.get("exchange") != chain.exchange:
                    problems.skip("malformed line", f"{path}:{number}: a header of {obj.get('exchange')!r} inside a "
                                  f"{chain.exchange} recording", path=str(path), line=number)
            else:
                problems.skip("unknown record kind", f"{path}:{number}: unknown record kind {kind!r} (written by a "
                              "newer bpbfx?); left out", path=str(path), line=number)
    return records


def export_redis_parquet(
    redis: Any,
    streams: Iterable[str],
    output_dir: str | os.PathLike[str],
    *,
    start: str = "-",
    cluster: bool | None = None,
    prefix: str = "bpbfx",
    count: int = 1000,
    decimals: str = STRING,
    strict: bool = False,
    progress: Progress | None = None,
    on_message: Callable[[str], object] | None = None,
    batch_rows: int = 65_536,
    max_buffered_rows: int = 262_144,
    max_open_files: int = 32,
    compression: str = "zstd",
) -> ExportResult:
    """Export streams published into Redis (:class:`~bpbfx.sinks.RedisStreamSink`,
    ``bpbfx collect --redis``) to Parquet: the same tables and layout as :func:`export_parquet`.

    Each stream is read from its first entry kept (or the entry after ``start``) up to its last
    entry when it is reached, ``count`` entries per request; exporting the same range again
    replaces the files made from it before.  Holes in a stream's numbering and ``gap`` entries
    are warnings (``on_message``).

    Args:
        redis: URL (``redis://host:port/db``, ``redis+cluster://...``) or a redis-py client.
        streams: ``EXCHANGE:STREAM`` names (``bitfinex:trades:tBTCUSD``) or keys.
        start: ``"-"`` or an entry id to read after.
        cluster / prefix: as for :class:`~bpbfx.sinks.RedisStreamReader`.
        Others: as for :func:`export_parquet` (``progress`` counts entries).

    Calling thread.

    Raises:
        RedisUnavailableError: Redis cannot be reached.
        ConfigurationError: a bad stream name or option.
        RecordingError: with ``strict``, a bad entry; a value that does not fit ``decimal128``;
            the output cannot be written.
        ImportError: the ``redis`` package is missing.
    """
    from .redis_source import RedisEntries
    from .wire_rows import WireRows

    problems = Problems(strict=strict, on_message=on_message)
    source = RedisEntries(redis, streams, start=start, count=count, cluster=cluster, prefix=prefix)
    dataset = ParquetDataset(output_dir, decimals=decimals, batch_rows=batch_rows,
                             max_buffered_rows=max_buffered_rows, max_open_files=max_open_files,
                             compression=compression)
    wires = {ex: WireRows(ex, _emitter(dataset, ex), problems) for ex in ("backpack", "bitfinex")}
    result = ExportResult(inputs=len(source.sources))
    try:
        with source:
            total = source.total()
            for src in source.sources:
                span = source.span(src)
                if span is None:
                    problems.warn(f"{src.key}: no entries to export")
                    continue
                identity = f"{src.key}\n{span[0]}\n{span[1]}"
                dataset.begin("r" + hashlib.sha1(identity.encode(), usedforsecurity=False).hexdigest()[:11])
                target = wires[src.exchange]
                for entry, fields, hole in source.entries(src, span[1], problems):
                    result.records += 1
                    if hole:
                        target.hole(src)
                    target.entry(src, entry, fields)
                    if progress is not None and result.records % _PROGRESS_EVERY == 0:
                        progress(source.position, max(total, source.position))
            if progress is not None:
                progress(source.position, max(total, source.position))
    except BaseException:
        dataset.abort()
        raise
    return _finish(result, dataset, problems, [w.events for w in wires.values()])
