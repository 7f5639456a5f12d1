"""Both JSON engines (msgspec and the stdlib scanner) give the same values for recorded
exchange frames, keep the exact number text the Bitfinex checksum needs and refuse the same
hostile input as ValueError."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bpbfx import _json
from bpbfx.exceptions import ConfigurationError
from tests.core.test_bitfinex_protocol import received_frames

ENGINES = pytest.mark.parametrize("engine", _json.ENGINES)


def _recorded(data_dir: Path) -> list[tuple[str, bytes]]:
    frames: list[tuple[str, bytes]] = []
    for line in (data_dir / "backpack" / "wire_frames.jsonl").read_text().splitlines():
        if line.strip():
            frames.append(("backpack", line.strip().encode()))  # one frame per line, as received
    bitfinex = data_dir / "bitfinex"
    for name in ("bbgo_ws_public.jsonl", "bbgo_ws_private.jsonl", "cryptofeed_ws_seq_all.txt"):
        frames += [("bitfinex", f.encode()) for f in received_frames(bitfinex / name)]
    return frames


def _typed(value: object) -> object:
    """The value with every leaf's type attached, so 1 and "1" (or 1 and 1.0) differ."""
    if isinstance(value, list):
        return [_typed(v) for v in value]
    if isinstance(value, dict):
        return [(k, _typed(v)) for k, v in value.items()]
    return (type(value).__name__, value)


@ENGINES
def test_engines_agree_on_recorded_frames(engine: str, data_dir: Path) -> None:
    """Every recorded frame decodes to the same values and types as json with parse_float=str
    (Bitfinex) or plain floats (Backpack), given as bytes or str."""
    frames = _recorded(data_dir)
    assert len(frames) > 1000
    loads = {"backpack": _json.make_loads(engine=engine), "bitfinex": _json.make_loads(str, engine=engine)}
    for exchange, frame in frames:
        want = json.loads(frame, parse_float=str) if exchange == "bitfinex" else json.loads(frame)
        assert _typed(loads[exchange](frame)) == _typed(want)
        assert _typed(loads[exchange](frame.decode())) == _typed(want)


@ENGINES
def test_number_text_is_exact(engine: str) -> None:
    """With parse_float=str every literal with a '.' or an exponent keeps its exact text."""
    loads = _json.make_loads(str, engine=engine)
    assert loads(b"[1e-8,0.10,-0.0,1.50E+3,7e-7,-0,100,118910,123456789012345678901234567890]") == [
        "1e-8", "0.10", "-0.0", "1.50E+3", "7e-7", 0, 100, 118910, 123456789012345678901234567890,
    ]  # fmt: skip


@ENGINES
@pytest.mark.parametrize(
    "frame",
    [
        b"[1,NaN]",
        b"[1,Infinity]",
        b"[-Infinity]",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":"\xff"}',
        b'{"a":"\xed\xa0\x80"}',
        b"[1] x",
        b"[1] [2]",
        b"",
        b"[1," + b"1" * 5001 + b"]",
    ],
    ids=["nan", "inf", "-inf", "deep", "utf8", "surrogate-bytes", "garbage", "two-values", "empty", "huge-int"],
)
def test_hostile_input_is_a_value_error(engine: str, frame: bytes) -> None:
    """Non-standard literals, deep nesting, bad UTF-8, trailing data and absurd integers are a
    ValueError (never RecursionError), so the clients report them as malformed frames."""
    for loads in (_json.make_loads(engine=engine), _json.make_loads(str, engine=engine)):
        with pytest.raises(ValueError):
            loads(frame)


@ENGINES
def test_surrounding_whitespace_is_accepted(engine: str) -> None:
    """JSON allows whitespace around a value."""
    assert _json.make_loads(engine=engine)(b' \r\n{"a": [1, "2"]}\n ') == {"a": [1, "2"]}


def test_unknown_engine_is_refused() -> None:
    """An engine name that does not exist says which ones do."""
    with pytest.raises(ConfigurationError, match="msgspec, stdlib"):
        _json.make_loads(engine="ujson")


def test_environment_chooses_the_engine() -> None:
    """BPBFX_JSON=stdlib makes the stdlib scanner the process default; msgspec is the default
    when it is installed (it is a dependency)."""
    code = "import bpbfx._json as j; print(j.ENGINE)"
    env = dict(os.environ, BPBFX_JSON="stdlib")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "stdlib"
    env.pop("BPBFX_JSON")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "msgspec"
