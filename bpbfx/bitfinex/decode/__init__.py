"""Turn decoded Bitfinex WebSocket v2 frames into events; pure functions, no I/O.

Frames are expected to be decoded with ``json.JSONDecoder(parse_float=str)``: integers arrive as
``int`` and every other number as the ``str`` of its exact text (``"1.14244423"``, ``"7e-7"``),
which :class:`~decimal.Decimal` takes without rounding.  (A ``float`` is still accepted and goes
through its shortest ``repr``.)

The connection strips the envelope before calling in here:

- ``[CHAN_ID, DATA]`` -> ``decode_channel(sub, None, DATA, first=...)``
- ``[CHAN_ID, TYPE, DATA]`` (``te``, ``tu``, ``fte``, ``ftu``, ``cs``, ``hb``) ->
  ``decode_channel(sub, TYPE, DATA, first=...)``
- ``[0, TYPE, DATA]`` after ``auth`` -> ``decode_account(TYPE, DATA)``
- ``{"event": ...}`` -> :func:`decode_event`, and ``error`` events -> :func:`error_from_event`

with the ``SEQ_ALL`` sequence number(s) and the ``TIMESTAMP`` time already removed from the end
of the array and passed as ``seq`` / ``ts_ms``.

Frames of a known channel with a shape these functions cannot read raise
:class:`~bpbfx.exceptions.MalformedFrameError`; message types and events this version does not
know become :class:`bpbfx.events.UnknownEvent` (never dropped).

Modules: :mod:`~bpbfx.bitfinex.decode.public` (public channels),
:mod:`~bpbfx.bitfinex.decode.account` (channel 0), :mod:`~bpbfx.bitfinex.decode.control`
(heartbeats, checksums, dict frames), :mod:`~bpbfx.bitfinex.decode.errors` (error frames to
exceptions) and :mod:`~bpbfx.bitfinex.decode.values` (numbers, texts and rows).
"""

from __future__ import annotations

from .account import decode_account
from .control import checksum, decode_event, heartbeat
from .errors import error_from_event
from .public import _BOOK_NUMS as _BOOK_NUMS
from .public import _CACHE_MAX as _CACHE_MAX
from .public import book_entry, decode_channel

#: The former private name of :func:`book_entry`, kept for :mod:`bpbfx.bitfinex.book`.
_book_entry = book_entry

__all__ = [
    "book_entry",
    "checksum",
    "decode_account",
    "decode_channel",
    "decode_event",
    "error_from_event",
    "heartbeat",
]
