"""Export recordings and published Redis streams to a partitioned Parquet dataset.

::

    from bpbfx.export import export_parquet

    result = export_parquet(["rec.jsonl.gz", "collected/collect-w0-bitfinex.jsonl"], "dataset")
    print(result.summary())

    import pandas as pd
    trades = pd.read_parquet("dataset/trades", filters=[("symbol", "==", "tBTCUSD")])

Tables ``trades``, ``book_snapshots``, ``book_deltas`` and ``tickers`` (:mod:`.tables`), each
partitioned ``exchange=.../symbol=.../date=YYYY-MM-DD/``; prices and sizes are the exchange's own
text, never a ``float``.  The command is ``bpbfx export``; the guide, with every column, the
measurements behind the choices and read snippets for pandas and DuckDB, is
``bpbfx/docs/export.md``.  Needs ``pyarrow``: ``pip install 'bpbfx[parquet]'`` (and ``redis`` for
:func:`export_redis_parquet`).

Modules: :mod:`.tables` (names and columns), :mod:`.rows` (native events to rows),
:mod:`.recordings` (reading recordings), :mod:`.frames` (their frames to events),
:mod:`.redis_source` and :mod:`.wire_rows` (Redis streams), :mod:`.parquet` (the partitioned
writer), :mod:`.report` (what an export did), :mod:`.run` (the two exports),
:mod:`.progress` (the progress bar of the command), :mod:`.bench` (the measurements).
"""

from __future__ import annotations

from .parquet import DECIMAL128, DECIMALS, STRING, arrow_schema
from .report import ExportResult
from .run import Progress, export_parquet, export_redis_parquet
from .tables import BOOK_DELTAS, BOOK_SNAPSHOTS, COLUMNS, PARTITION_COLUMNS, TABLES, TICKERS, TRADES

__all__ = [
    "BOOK_DELTAS",
    "BOOK_SNAPSHOTS",
    "COLUMNS",
    "DECIMAL128",
    "DECIMALS",
    "PARTITION_COLUMNS",
    "STRING",
    "TABLES",
    "TICKERS",
    "TRADES",
    "ExportResult",
    "Progress",
    "arrow_schema",
    "export_parquet",
    "export_redis_parquet",
]
