"""Rows in, a hive-partitioned Parquet dataset out, in bounded memory.

Layout: ``<output>/<table>/exchange=<exchange>/symbol=<symbol>/date=<YYYY-MM-DD>/part-<tag>-<n>.parquet``
(``date`` is the UTC day of ``receive_time``; a symbol character outside ``[A-Za-z0-9_.-]`` is
percent-encoded, ``tBTCF0:USTF0`` -> ``tBTCF0%3AUSTF0``, which pyarrow, pandas and DuckDB decode).

Memory: rows wait in one buffer per partition; a buffer of ``batch_rows`` rows becomes a row
group at once, and when all buffers together hold more than ``max_buffered_rows`` the largest is
written, so at most about that many rows are held whatever the input size.  At most
``max_open_files`` files are open; the least recently used is finished first (the next rows of
its partition go to a new part).

Files are written under a hidden name (``.part-...parquet.tmp``, which pyarrow, pandas and
DuckDB skip) and renamed when finished, so a dataset being read never shows half a file; when a
partition is first written in an export, files of the same ``tag`` left there by an earlier
export of the same input are removed, so exporting a recording again replaces its rows.

Only ``stream`` and ``side`` are dictionary-encoded (see ``_DICTIONARY_COLUMNS``).

Decimal columns are strings holding the exchange's text, or ``decimal128(precision, scale)``;
Arrow converts the text (no ``float`` on the way) and refuses a value that does not fit, which
becomes a :class:`~bpbfx.RecordingError` naming the value.
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from ..exceptions import ConfigurationError, RecordingError
from .tables import BOOL, COLUMNS, DECIMAL, INT, TABLES, TEXT, TIME

try:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("bpbfx.export needs the 'pyarrow' package: pip install 'bpbfx[parquet]'") from exc

__all__ = ["DECIMAL128", "DECIMALS", "STRING", "ParquetDataset", "arrow_schema", "partition_dir"]

STRING: Final = "string"
DECIMAL128: Final = "decimal128"
DECIMALS: Final = (STRING, DECIMAL128)
"""How decimal columns are stored: the exchange's text, or ``decimal128(38, 18)``."""

DECIMAL_PRECISION: Final = 38
DECIMAL_SCALE: Final = 18

_DAY_US: Final = 86_400_000_000
# Dictionary encoding only where values repeat a lot: on prices, ids and times it made files
# larger than plain encoding under zstd, and an open writer kept up to 1 MB of dictionary per
# column (about 6.5 MB a file) -- measured by bpbfx.bench.export.
_DICTIONARY_COLUMNS: Final = ["stream", "side"]
_SAFE = re.compile(r"^[A-Za-z0-9_.-]+$")

Key = tuple[str, str, str, int]  # table, exchange, symbol, day


def arrow_schema(table: str, decimals: str = STRING) -> pa.Schema:
    """The Arrow schema of a table's files (partition columns are in the path, not here).

    Raises:
        ConfigurationError: an unknown table or ``decimals``.
    """
    if decimals not in DECIMALS:
        raise ConfigurationError(f"decimals must be one of {', '.join(DECIMALS)}, got {decimals!r}")
    if table not in COLUMNS:
        raise ConfigurationError(f"unknown table {table!r}; tables: {', '.join(TABLES)}")
    number = pa.string() if decimals == STRING else pa.decimal128(DECIMAL_PRECISION, DECIMAL_SCALE)
    types = {TEXT: pa.string(), INT: pa.int64(), DECIMAL: number, TIME: pa.timestamp("us", tz="UTC"),
             BOOL: pa.bool_()}
    nullable = {"stream", "receive_time", "backfill", "snapshot"}
    return pa.schema([pa.field(name, types[kind], nullable=name not in nullable) for name, kind in COLUMNS[table]])


def _segment(value: str) -> str:
    """A partition value as a directory name (percent-encoded unless plainly safe)."""
    if not value:
        return "_"
    return value if _SAFE.match(value) else quote(value, safe="")


def partition_dir(root: str | os.PathLike[str], table: str, exchange: str, symbol: str, date: str) -> Path:
    """The directory of one partition."""
    return Path(root) / table / f"exchange={_segment(exchange)}" / f"symbol={_segment(symbol)}" / f"date={date}"


class _Open:
    __slots__ = ("final", "temp", "writer")

    def __init__(self, writer: pq.ParquetWriter, temp: Path, final: Path) -> None:
        self.writer = writer
        self.temp = temp
        self.final = final


class ParquetDataset:
    """Writes rows into the partitioned dataset under ``root`` (see the module docstring).

    Args:
        root: the output directory (created when missing).
        decimals: :data:`STRING` or :data:`DECIMAL128`.
        batch_rows: rows per row group (the most a partition buffers).
        max_buffered_rows: rows all buffers may hold together before the largest is written.
        max_open_files: Parquet files open at once.
        compression: Parquet codec (``zstd``, ``snappy``, ...).
        on_file: called with each finished file's path.

    One thread.  Call :meth:`begin` with the tag of each input before its rows, and
    :meth:`close` at the end (or :meth:`abort` after a failure: files not finished are removed).

    Raises:
        ConfigurationError: a bad option.
    """

    def __init__(self, root: str | os.PathLike[str], *, decimals: str = STRING, batch_rows: int = 65_536,
                 max_buffered_rows: int = 262_144, max_open_files: int = 32, compression: str = "zstd",
                 on_file: Callable[[Path], object] | None = None) -> None:
        if batch_rows < 1 or max_buffered_rows < batch_rows or max_open_files < 1:
            raise ConfigurationError("batch_rows must be >= 1, max_buffered_rows >= batch_rows and max_open_files >= 1")
        self.root = Path(root)
        self.decimals = decimals
        self.schemas = {t: arrow_schema(t, decimals) for t in TABLES}
        self.batch_rows = batch_rows
        self.max_buffered_rows = max_buffered_rows
        self.max_open_files = max_open_files
        self.compression = compression
        self.on_file = on_file
        self.rows: dict[str, int] = dict.fromkeys(TABLES, 0)
        self.files: list[Path] = []
        self.buffered = 0
        self.tag = "x"
        self._buffers: dict[Key, list[tuple[Any, ...]]] = {}
        self._open: collections.OrderedDict[Key, _Open] = collections.OrderedDict()
        self._parts: dict[tuple[Key, str], int] = {}
        self._cleaned: set[tuple[Path, str]] = set()
        self._dates: dict[int, str] = {}
        self._decimal_columns = {t: [i for i, (_, kind) in enumerate(COLUMNS[t]) if kind == DECIMAL] for t in TABLES}

    def __repr__(self) -> str:
        return f"<ParquetDataset {self.root} rows={sum(self.rows.values())} files={len(self.files)}>"

    # ------------------------------------------------------------------ input
    def begin(self, tag: str) -> None:
        """The rows that follow come from the input named ``tag`` (they go to its own files)."""
        if tag != self.tag:
            self.flush()
            self._close_all()
            self.tag = tag

    def add(self, table: str, exchange: str, symbol: str, receive_time_us: int, rows: list[tuple[Any, ...]]) -> None:
        """Queue ``rows`` of ``table`` (tuples in the table's column order) into the partition of
        ``exchange``, ``symbol`` and the day of ``receive_time_us``.

        Raises:
            RecordingError: a decimal that does not fit ``decimal128`` (when so configured), or
                the files cannot be written.
        """
        key = (table, exchange, symbol, receive_time_us // _DAY_US)
        buf = self._buffers.get(key)
        if buf is None:
            buf = self._buffers[key] = []
        buf.extend(rows)
        self.buffered += len(rows)
        if len(buf) >= self.batch_rows:
            self._write(key)
        elif self.buffered > self.max_buffered_rows:
            self._write(max(self._buffers, key=lambda k: len(self._buffers[k])))

    def flush(self) -> None:
        """Write every buffered row."""
        for key in list(self._buffers):
            self._write(key)

    def close(self) -> list[Path]:
        """Write what is buffered and finish every file; returns every file written."""
        self.flush()
        self._close_all()
        return self.files

    def abort(self) -> None:
        """Drop what is buffered and remove the files not finished (after a failure)."""
        self._buffers.clear()
        self.buffered = 0
        while self._open:
            _, handle = self._open.popitem(last=False)
            with contextlib.suppress(Exception):
                handle.writer.close()
            with contextlib.suppress(OSError):
                handle.temp.unlink()

    # ------------------------------------------------------------------ writing
    def _date(self, day: int) -> str:
        text = self._dates.get(day)
        if text is None:
            text = self._dates[day] = (datetime.date(1970, 1, 1) + datetime.timedelta(days=day)).isoformat()
        return text

    def _write(self, key: Key) -> None:
        rows = self._buffers.pop(key, None)
        if not rows:
            return
        self.buffered -= len(rows)
        table = key[0]
        batch = self._batch(key, rows)
        handle = self._handle(key)
        try:
            handle.writer.write_table(batch, row_group_size=len(rows))
        except OSError as exc:
            raise RecordingError(f"cannot write {handle.temp}: {exc.strerror or exc}", path=str(handle.temp)) from exc
        self.rows[table] += len(rows)

    def _batch(self, key: Key, rows: list[tuple[Any, ...]]) -> pa.Table:
        table = key[0]
        schema = self.schemas[table]
        columns = list(zip(*rows, strict=True))
        decimals = self._decimal_columns[table]
        arrays: list[pa.Array] = []
        for i, (values, f) in enumerate(zip(columns, schema, strict=True)):
            if i in decimals and self.decimals == DECIMAL128:
                arrays.append(self._decimal(key, f.name, values, f.type))
            else:
                arrays.append(pa.array(values, type=f.type))
        return pa.Table.from_arrays(arrays, schema=schema)

    def _decimal(self, key: Key, column: str, values: tuple[Any, ...], kind: pa.DataType) -> pa.Array:
        text = pa.array(values, type=pa.string())
        try:
            return pc.cast(text, kind)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            bad = next((v for v in values if v is not None and not _fits(v, kind)), None)
            table, exchange, symbol, _ = key
            raise RecordingError(
                f"{table} {exchange} {symbol}: {column} {bad} does not fit {kind} ({exc}); nothing is rounded: "
                "export with string decimals to keep every digit"
            ) from None

    def _handle(self, key: Key) -> _Open:
        handle = self._open.get(key)
        if handle is not None:
            self._open.move_to_end(key)
            return handle
        while len(self._open) >= self.max_open_files:
            self._finish(self._open.popitem(last=False)[1])
        table, exchange, symbol, day = key
        folder = partition_dir(self.root, table, exchange, symbol, self._date(day))
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if (folder, self.tag) not in self._cleaned:
                self._cleaned.add((folder, self.tag))
                for old in [*folder.glob(f"part-{self.tag}-*.parquet"), *folder.glob(f".part-{self.tag}-*.tmp")]:
                    old.unlink()
            n = self._parts.get((key, self.tag), 0)
            self._parts[(key, self.tag)] = n + 1
            name = f"part-{self.tag}-{n:04d}.parquet"
            temp = folder / f".{name}.tmp"
            writer = pq.ParquetWriter(temp, self.schemas[table], compression=self.compression,
                                      use_dictionary=_DICTIONARY_COLUMNS)
        except OSError as exc:
            raise RecordingError(f"cannot write into {folder}: {exc.strerror or exc}", path=str(folder)) from exc
        handle = self._open[key] = _Open(writer, temp, folder / name)
        return handle

    def _finish(self, handle: _Open) -> None:
        try:
            handle.writer.close()
            os.replace(handle.temp, handle.final)
        except OSError as exc:
            raise RecordingError(f"cannot finish {handle.final}: {exc.strerror or exc}",
                                 path=str(handle.final)) from exc
        self.files.append(handle.final)
        if self.on_file is not None:
            self.on_file(handle.final)

    def _close_all(self) -> None:
        while self._open:
            self._finish(self._open.popitem(last=False)[1])


def _fits(text: str, kind: pa.DataType) -> bool:
    try:
        pc.cast(pa.array([text], type=pa.string()), kind)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True
