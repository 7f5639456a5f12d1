"""What an export did: :class:`Problems` (skips and warnings, counted as they happen) and
:class:`ExportResult` (the final account); no I/O."""

from __future__ import annotations

import collections
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..exceptions import RecordingError
from .tables import TABLES

__all__ = ["ExportResult", "Problems"]

MESSAGES = 20
"""How many skip and warning messages are kept (every one is counted)."""


class Problems:
    """Input an export could not use, and what it noticed on the way.

    - :meth:`skip`: bad input left out (a malformed line, a truncated end, an unknown record
      kind, a frame that does not decode), counted by reason; with ``strict`` the first one
      raises instead.
    - :meth:`warn`: the data has a known hole (a sequence gap, a gap entry in Redis); the rows
      around it are written, the warning says where.

    The first :data:`MESSAGES` messages are kept; ``on_message`` (if given) sees every one as it
    happens.  One thread.
    """

    def __init__(self, *, strict: bool = False, on_message: Callable[[str], object] | None = None) -> None:
        self.strict = strict
        self.on_message = on_message
        self.skipped: collections.Counter[str] = collections.Counter()
        self.warnings = 0
        self.messages: list[str] = []

    def _keep(self, message: str) -> None:
        if len(self.messages) < MESSAGES:
            self.messages.append(message)
        if self.on_message is not None:
            self.on_message(message)

    def skip(self, reason: str, message: str, *, path: str | None = None, line: int | None = None) -> None:
        """Count one piece of bad input left out.

        Raises:
            RecordingError: ``strict`` (with ``path`` and ``line``).
        """
        if self.strict:
            raise RecordingError(message, path=path, line=line)
        self.skipped[reason] += 1
        self._keep(message)

    def warn(self, message: str) -> None:
        """Count a known hole in the data (never raises)."""
        self.warnings += 1
        self._keep(message)


@dataclass
class ExportResult:
    """What :func:`~bpbfx.export.export_parquet` (or the Redis export) did.

    Attributes:
        rows: rows written per table (every table listed, 0 when none).
        files: the Parquet files written, in the order they were finished.
        inputs: recordings (files) or streams read.
        records: records (lines) or stream entries read.
        duplicates: Bitfinex trades not written twice (``tu`` after ``te``, snapshot repeats).
        control: connection control messages (heartbeats, checksums, subscribe replies).
        not_exported: events of kinds no table holds, by class name (candles, funding data...).
        unknown: frames of channels or types this bpbfx does not decode.
        skipped: bad input left out, by reason.
        warnings: known holes in the data (sequence gaps, gap entries, missing entries).
        messages: the first messages about skips and warnings.
    """

    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    files: list[Path] = field(default_factory=list)
    inputs: int = 0
    records: int = 0
    duplicates: int = 0
    control: int = 0
    not_exported: dict[str, int] = field(default_factory=dict)
    unknown: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    warnings: int = 0
    messages: list[str] = field(default_factory=list)

    @property
    def total_rows(self) -> int:
        """Rows written in every table."""
        return sum(self.rows.values())

    def summary(self) -> str:
        """A few lines for people: rows per table, files, and what was left out and why."""
        tables = ", ".join(f"{n} {t}" for t, n in self.rows.items())
        files, inputs = len(self.files), self.inputs
        lines = [f"{self.total_rows} rows ({tables}) in {files} file{'s' * (files != 1)} from {inputs} "
                 f"input{'s' * (inputs != 1)} ({self.records} records)"]
        left = []
        if self.duplicates:
            left.append(f"{self.duplicates} duplicate trades")
        if self.not_exported:
            kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.not_exported.items(), key=lambda kv: -kv[1]))
            left.append(f"no table for {kinds}")
        if self.unknown:
            left.append(f"{self.unknown} frames of unknown channels or types")
        if left:
            lines.append("not written: " + "; ".join(left))
        if self.skipped:
            lines.append("skipped bad input: " + ", ".join(f"{n} {r}" for r, n in sorted(self.skipped.items())))
        if self.warnings:
            lines.append(f"{self.warnings} warnings (holes in the data; see the messages)")
        return "\n".join(lines)
