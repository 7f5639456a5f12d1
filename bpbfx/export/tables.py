"""The tables ``bpbfx export`` writes: their names, columns and column kinds; no I/O, no pyarrow.

Every table is partitioned hive style by ``exchange``, ``symbol`` and ``date`` (the UTC day of
``receive_time``): those three columns live in the directory names, not in the files, so readers
(pyarrow datasets, pandas, DuckDB ``hive_partitioning``) add them back.  The columns below are
the ones stored in each file, in order; a row is a tuple in that order.

Column kinds:

- ``text``: UTF-8 string;
- ``int``: 64-bit integer;
- ``decimal``: a price, size or rate, carried as the exchange's own number text from decoding to
  the file (never through ``float``) and written as a string, or as ``decimal128`` when asked
  (see ``bpbfx/docs/export.md`` for the measurements behind the default);
- ``time``: microseconds since the Unix epoch, written as ``timestamp[us, tz=UTC]``;
- ``bool``: boolean.

Every column may be null except ``stream``, ``receive_time`` and the booleans.  The guide with
what each column holds per exchange is ``bpbfx/docs/export.md``.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "BOOK_DELTAS",
    "BOOK_SNAPSHOTS",
    "COLUMNS",
    "DECIMAL",
    "KINDS",
    "PARTITION_COLUMNS",
    "TABLES",
    "TEXT",
    "TICKERS",
    "TIME",
    "TRADES",
]

TEXT: Final = "text"
INT: Final = "int"
DECIMAL: Final = "decimal"
TIME: Final = "time"
BOOL: Final = "bool"
KINDS: Final = (TEXT, INT, DECIMAL, TIME, BOOL)
"""Every column kind."""

TRADES: Final = "trades"
BOOK_SNAPSHOTS: Final = "book_snapshots"
BOOK_DELTAS: Final = "book_deltas"
TICKERS: Final = "tickers"
TABLES: Final = (TRADES, BOOK_SNAPSHOTS, BOOK_DELTAS, TICKERS)
"""Every table, in the order they are reported."""

PARTITION_COLUMNS: Final = ("exchange", "symbol", "date")
"""The hive partition keys, outermost first (directory names, not file columns)."""

_LEVEL: Final = (
    ("side", TEXT),
    ("price", DECIMAL),
    ("amount", DECIMAL),
    ("count", INT),
    ("order_id", INT),
    ("seq", INT),
)

COLUMNS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    TRADES: (
        ("stream", TEXT),
        ("trade_id", INT),
        ("price", DECIMAL),
        ("amount", DECIMAL),
        ("side", TEXT),
        ("exchange_time", TIME),
        ("receive_time", TIME),
        ("backfill", BOOL),
        ("snapshot", BOOL),
    ),
    BOOK_SNAPSHOTS: (
        ("stream", TEXT),
        ("snapshot_id", INT),
        *_LEVEL,
        ("exchange_time", TIME),
        ("receive_time", TIME),
    ),
    BOOK_DELTAS: (
        ("stream", TEXT),
        ("snapshot_id", INT),
        *_LEVEL,
        ("prev_seq", INT),
        ("exchange_time", TIME),
        ("receive_time", TIME),
    ),
    TICKERS: (
        ("stream", TEXT),
        ("last", DECIMAL),
        ("open", DECIMAL),
        ("high", DECIMAL),
        ("low", DECIMAL),
        ("change", DECIMAL),
        ("change_ratio", DECIMAL),
        ("volume", DECIMAL),
        ("quote_volume", DECIMAL),
        ("trades", INT),
        ("bid", DECIMAL),
        ("bid_size", DECIMAL),
        ("ask", DECIMAL),
        ("ask_size", DECIMAL),
        ("exchange_time", TIME),
        ("receive_time", TIME),
    ),
}
"""``table -> ((column, kind), ...)`` in file order."""
