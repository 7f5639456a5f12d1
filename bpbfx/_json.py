"""Fast JSON decoding of whole WebSocket frames (the hot path).

``json.loads(bytes)`` detects the encoding and runs two whitespace regexes around the scanner
for every frame.  Exchange frames are UTF-8 JSON values without surrounding whitespace, so the
scanner is called directly and the full decoder is used only when that fast path does not
consume the whole frame (whitespace, garbage), which also produces the standard error.

Hostile input is refused as ``ValueError`` like any other invalid JSON: the non-standard
literals ``NaN``/``Infinity``/``-Infinity`` (which Python's decoder accepts by default and which
no exchange sends), and nesting deep enough to exhaust the recursion limit (``RecursionError``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["make_loads"]


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"JSON does not allow {name}")


def make_loads(parse_float: Callable[[str], Any] | None = None) -> Callable[[bytes | str], Any]:
    """A ``loads(frame)`` for frames given as UTF-8 bytes or str.

    Raises (from the returned function):
        ValueError: the frame is not valid JSON or not UTF-8 (``json.JSONDecodeError`` and
            ``UnicodeDecodeError`` are both ValueErrors), contains ``NaN``/``Infinity``, or is
            nested too deeply to decode.
    """
    decoder = json.JSONDecoder(parse_float=parse_float, parse_constant=_refuse_constant)
    scan = decoder.scan_once  # type: ignore[attr-defined]  # set by JSONDecoder.__init__, not in the stubs
    full = decoder.decode

    def loads(frame: bytes | str) -> Any:
        try:
            text = frame.decode() if isinstance(frame, bytes) else frame
            try:
                value, end = scan(text, 0)
            except StopIteration:
                return full(text)  # raises the standard JSONDecodeError
            if end != len(text):
                return full(text)  # trailing data: whitespace is fine, anything else raises
            return value
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None

    return loads
