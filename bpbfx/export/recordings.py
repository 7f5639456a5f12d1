"""Recordings read for export: line by line, gzip or plain, with the bytes read so far, and every
line that is not a record counted instead of ending the export.

The format is :mod:`bpbfx.recording` (``bpbfx record``, and ``bpbfx collect`` without Redis).
:func:`bpbfx.recording.iter_records` reads it for replays; export reads it here because it needs
what that iterator does not give: the position in the (compressed) file for a progress bar, and a
counted skip, with its line number, for a line that is not a record.  Rotated parts of one
recording are put back in order (:func:`chains`), whatever order the files were given in.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._json import make_loads
from ..exceptions import RecordingError
from ..recording import part_path
from .report import Problems

__all__ = ["Chain", "RecordingFile", "chains", "read_header"]

_GZIP_MAGIC = b"\x1f\x8b"
_EXCHANGES = ("backpack", "bitfinex")
_NOT_A_RECORDING = ("is not a bpbfx recording (its first line is not a header); export reads the JSON-lines files "
                    "written by `bpbfx record` and by `bpbfx collect` without --redis")

_loads = make_loads()


def _open(path: Path) -> tuple[io.BufferedReader, io.BufferedIOBase]:
    """``(raw file, stream of lines)``: the stream decompresses when the file is gzip."""
    raw = open(path, "rb")  # closed by the caller
    try:
        magic = raw.read(2)
        raw.seek(0)
    except OSError:
        raw.close()
        raise
    if magic == _GZIP_MAGIC:
        return raw, gzip.GzipFile(fileobj=raw, mode="rb")
    return raw, raw


def read_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The header of a recording (its first line).

    Raises:
        RecordingError: not a recording (no header line), or a header naming no exchange bpbfx
            knows.
        OSError: the file cannot be read.
    """
    p = Path(path)
    raw, stream = _open(p)
    try:
        first = stream.readline()
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise RecordingError(f"{p}: {_NOT_A_RECORDING} (compressed stream unreadable: {exc})", path=str(p),
                             line=1) from None
    finally:
        stream.close()
        raw.close()
    try:
        header = _loads(first)
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("kind") != "header":
        raise RecordingError(f"{p} {_NOT_A_RECORDING}", path=str(p), line=1)
    if header.get("exchange") not in _EXCHANGES:
        raise RecordingError(f"{p}: the header names exchange {header.get('exchange')!r}; export reads backpack and "
                             "bitfinex recordings", path=str(p), line=1)
    return header


class RecordingFile:
    """One recording file, read once, line by line (:meth:`records`).

    Attributes:
        path: the file.
        header: its header line.
        size: its size in bytes (compressed when it is gzip).
    """

    def __init__(self, path: str | os.PathLike[str], header: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.header = header if header is not None else read_header(self.path)
        self.size = self.path.stat().st_size
        self._raw: io.BufferedReader | None = None
        self._done = False
        self._broken = ""

    def __repr__(self) -> str:
        return f"<RecordingFile {self.path} part={self.part}>"

    @property
    def exchange(self) -> str:
        """The exchange the header names."""
        return str(self.header["exchange"])

    @property
    def part(self) -> int:
        """The part number of a rotated recording (0 for the first part or an unrotated file)."""
        part = self.header.get("part")
        return part if isinstance(part, int) and not isinstance(part, bool) else 0

    @property
    def started(self) -> float:
        """When the recorder opened this part (the header's ``ts``; 0 when it has none)."""
        ts = self.header.get("ts")
        return float(ts) if isinstance(ts, (int, float)) and not isinstance(ts, bool) else 0.0

    @property
    def position(self) -> int:
        """Bytes of the file read so far (compressed bytes for gzip)."""
        raw = self._raw
        if raw is None:
            return self.size if self._done else 0
        try:
            return raw.tell()
        except (OSError, ValueError):
            return self.size

    def _lines(self) -> Iterator[tuple[int, bytes]]:
        """Numbered lines; a compressed stream that ends early ends them, noted in
        ``_broken``."""
        raw, stream = _open(self.path)
        self._raw = raw
        number = 0
        try:
            for line in stream:
                number += 1
                yield number, line
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            self._broken = f"the compressed stream ends early after line {number} ({exc})"
        finally:
            self._raw = None
            self._done = True
            if stream is not raw:
                stream.close()
            raw.close()

    def records(self, problems: Problems) -> Iterator[tuple[int, dict[str, Any]]]:
        """``(line number, record)`` for every record after the header, in file order.

        A line that is not JSON, not an object with a ``kind``, or a last line cut short (the
        recorder was killed, or the compressed stream ends early) is left out and counted in
        ``problems``.  Calling thread.

        Raises:
            RecordingError: ``problems.strict`` and a line was bad.
            OSError: the file cannot be read.
        """
        path = self.path
        cut = False
        number = 0
        self._broken = ""
        for number, line in self._lines():
            if number == 1 or not line.strip():
                continue  # the header (read already), blank lines
            try:
                obj = _loads(line)
            except ValueError as exc:
                if not line.endswith(b"\n"):
                    cut = True
                    problems.skip("truncated", f"{path}:{number}: the last line is cut short (the recorder was "
                                  "stopped mid-write); the lines before are exported", path=str(path), line=number)
                else:
                    problems.skip("malformed line", f"{path}:{number}: not JSON ({exc}): {line[:80]!r}",
                                  path=str(path), line=number)
                continue
            if type(obj) is not dict or type(obj.get("kind")) is not str:
                problems.skip("malformed line", f"{path}:{number}: not a record (a JSON object with a 'kind'): "
                              f"{line[:80]!r}", path=str(path), line=number)
                continue
            yield number, obj
        if self._broken and not cut:
            problems.skip("truncated", f"{path}: {self._broken}; the lines before are exported", path=str(path),
                          line=number)


@dataclass
class Chain:
    """One recording: its parts in order (a file that was not rotated is a chain of one).

    Attributes:
        parts: the files, part 0 first.
        tag: names the Parquet files made from it, the same on every export of the same
            recording, so that exporting it again replaces them.
    """

    parts: list[RecordingFile] = field(default_factory=list)
    tag: str = ""

    @property
    def exchange(self) -> str:
        """The exchange recorded."""
        return self.parts[0].exchange

    @property
    def size(self) -> int:
        """Bytes of every part."""
        return sum(p.size for p in self.parts)

    @property
    def position(self) -> int:
        """Bytes read so far in every part."""
        return sum(p.position for p in self.parts)


def _tag(first: RecordingFile) -> str:
    """Same recording, same tag: its first file's absolute path and the time the recorder
    started it."""
    identity = f"{first.path.resolve()}\n{first.started!r}\n{first.part}"
    return hashlib.sha1(identity.encode(), usedforsecurity=False).hexdigest()[:12]


def chains(paths: Iterable[str | os.PathLike[str]]) -> list[Chain]:
    """Group recording files into recordings, their parts in order; recordings sorted by the time
    they were started.

    A part ``n`` (``rec.0002.jsonl``) joins the recording whose part 0 (``rec.jsonl``) is among the
    files; without it, the part is a recording of its own (Bitfinex channels announced in the
    missing parts are then unknown and counted as such).

    Raises:
        RecordingError: a file is not a recording, or two parts of one recording name different
            exchanges.
        OSError: a file cannot be read.
    """
    files = [RecordingFile(p) for p in dict.fromkeys(Path(p) for p in paths)]
    by_path = {f.path.resolve(): f for f in files}
    taken: set[Path] = set()
    found: list[Chain] = []
    for f in sorted(files, key=lambda f: (f.part, f.started)):
        if f.path.resolve() in taken:
            continue
        chain = Chain([f])
        taken.add(f.path.resolve())
        if f.part == 0:
            n = 1
            while True:
                nxt = by_path.get(part_path(f.path, n).resolve())
                if nxt is None or nxt.path.resolve() in taken:
                    break
                if nxt.exchange != f.exchange:
                    raise RecordingError(f"{nxt.path}: recorded from {nxt.exchange}, but its first part {f.path} is "
                                         f"from {f.exchange}", path=str(nxt.path))
                chain.parts.append(nxt)
                taken.add(nxt.path.resolve())
                n += 1
        chain.tag = _tag(f)
        found.append(chain)
    found.sort(key=lambda c: c.parts[0].started)
    return found
