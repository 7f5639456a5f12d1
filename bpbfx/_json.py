"""Fast JSON decoding of whole WebSocket frames (the hot path).

Two engines give the same Python values for every exchange frame:

- ``"msgspec"`` (the default when the ``msgspec`` package imports): ``msgspec.json.Decoder``,
  whose ``float_hook`` receives the exact text of each number literal with a ``.`` or an
  exponent, so the Bitfinex checksum still sees the wire text.  ``python -m bpbfx.bench.decoders``
  measures it at 25-60 % less time per frame than the stdlib scanner on recorded and benchmark
  frames, with identical results on every one;
- ``"stdlib"``: ``json.JSONDecoder``'s scanner called directly.  ``json.loads(bytes)`` detects
  the encoding and runs two whitespace regexes around the scanner for every frame; exchange
  frames are UTF-8 JSON values without surrounding whitespace, so the scanner is called
  directly and the full decoder is used only when that fast path does not consume the whole
  frame (whitespace, garbage), which also produces the standard error.

``BPBFX_JSON=stdlib`` (or ``msgspec``) in the environment chooses the engine for the whole
process (read once, at import); ``make_loads(engine=...)`` for one decoder.

Hostile input is refused as ``ValueError`` like any other invalid JSON by both engines: the
non-standard literals ``NaN``/``Infinity``/``-Infinity`` (which Python's decoder accepts by
default and which no exchange sends), and nesting deep enough to exhaust the recursion limit
(``RecursionError``).  msgspec also refuses lone surrogate escapes (``"\\ud800"``), which the
stdlib accepts; no exchange sends them either.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

__all__ = ["ENGINE", "ENGINES", "make_loads"]

ENGINES = ("msgspec", "stdlib")
"""The decoders :func:`make_loads` can use."""


def _default_engine() -> str:
    wanted = os.environ.get("BPBFX_JSON", "").strip().lower()
    if wanted == "stdlib":
        return "stdlib"
    try:
        import msgspec  # noqa: F401
    except ImportError:
        return "stdlib"
    return "msgspec"


ENGINE = _default_engine()
"""The engine :func:`make_loads` uses by default in this process."""


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"JSON does not allow {name}")


def make_loads(
    parse_float: Callable[[str], Any] | None = None, *, engine: str | None = None
) -> Callable[[bytes | str], Any]:
    """A ``loads(frame)`` for frames given as UTF-8 bytes or str.

    ``parse_float`` receives the exact text of every number literal with a ``.`` or an
    exponent (``str`` keeps it as text); without it such numbers are ``float``.  ``engine`` is
    one of :data:`ENGINES` (default :data:`ENGINE`).

    Raises:
        ConfigurationError: unknown ``engine``, or ``"msgspec"`` when it is not installed.

    The returned function raises ValueError: the frame is not valid JSON or not UTF-8 (every
    decode error of both engines is a ValueError), contains ``NaN``/``Infinity``, or is nested
    too deeply to decode.
    """
    chosen = ENGINE if engine is None else engine
    if chosen == "msgspec":
        return _msgspec_loads(parse_float)
    if chosen == "stdlib":
        return _stdlib_loads(parse_float)
    from .exceptions import ConfigurationError

    raise ConfigurationError(f"JSON engine must be one of {', '.join(ENGINES)}, got {chosen!r}")


def _msgspec_loads(parse_float: Callable[[str], Any] | None) -> Callable[[bytes | str], Any]:
    try:
        import msgspec
    except ImportError as exc:
        from .exceptions import ConfigurationError

        raise ConfigurationError("the msgspec JSON engine needs the msgspec package (pip install msgspec)") from exc
    decode = msgspec.json.Decoder(float_hook=parse_float).decode

    def loads(frame: bytes | str) -> Any:
        try:
            return decode(frame)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None

    return loads


def _stdlib_loads(parse_float: Callable[[str], Any] | None) -> Callable[[bytes | str], Any]:
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


def make_dumps(*, engine: str | None = None) -> Callable[[Any], str]:
    """A ``dumps(value)`` writing compact JSON text (no spaces; non-ASCII as UTF-8) of dicts,
    lists, strings, numbers, booleans and ``None`` (``Decimal`` as its text with msgspec): the
    frames a client sends.  ``engine`` as for :func:`make_loads`.

    Raises:
        ConfigurationError: unknown ``engine``, or ``"msgspec"`` when it is not installed.

    The returned function raises TypeError for a value JSON cannot hold.
    """
    chosen = ENGINE if engine is None else engine
    if chosen == "msgspec":
        try:
            import msgspec
        except ImportError as exc:
            from .exceptions import ConfigurationError

            raise ConfigurationError("the msgspec JSON engine needs the msgspec package (pip install msgspec)") from exc
        encode = msgspec.json.Encoder().encode

        def dumps_msgspec(value: Any) -> str:
            return encode(value).decode()

        return dumps_msgspec
    if chosen == "stdlib":
        encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
        return encoder.encode
    from .exceptions import ConfigurationError

    raise ConfigurationError(f"JSON engine must be one of {', '.join(ENGINES)}, got {chosen!r}")
