"""Loopback tests of the replay server, driven with websocket-client."""

from __future__ import annotations

import base64
import gzip
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import websocket

from bpbfx.sim.replay import ReplayServer, load_frames, parse_line


def text_of(ws: websocket.WebSocket) -> str:
    """The next frame's text."""
    data = ws.recv()
    return data if isinstance(data, str) else data.decode()


def read_all(ws: websocket.WebSocket, n: int) -> list[str]:
    return [text_of(ws) for _ in range(n)]


def raw_lines(path: Path) -> list[str]:
    """The frames of a one-frame-per-line file, read here independently of the server."""
    return [line for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def cryptofeed_received(path: Path) -> list[str]:
    """The received frames of the cryptofeed text format, read here independently of the server."""
    out = []
    for line in path.read_text(encoding="utf-8").split("\n"):
        if not line.strip():
            continue
        if line.startswith("wss://"):
            _url, direction, rest = line.split(" ", 2)
            if direction != "->":
                continue
            line = rest
        out.append(line.split(": ", 1)[1])
    return out


@pytest.fixture
def bitfinex(data_dir: Path) -> Path:
    return data_dir / "bitfinex"


@pytest.fixture
def served() -> Iterator[list[websocket.WebSocket]]:
    sockets: list[websocket.WebSocket] = []
    yield sockets
    for ws in sockets:
        ws.close(timeout=0.2)


def connect(server: ReplayServer, sockets: list[websocket.WebSocket]) -> websocket.WebSocket:
    ws = websocket.create_connection(server.url, timeout=5)
    sockets.append(ws)
    return ws


@pytest.mark.parametrize(
    ("name", "reader"),
    [
        ("bbgo_ws_public.jsonl", raw_lines),
        ("bbgo_ws_private.jsonl", raw_lines),
        ("cryptofeed_ws_seq_all.txt", cryptofeed_received),
    ],
)
def test_recordings_are_served_frame_for_frame(
    bitfinex: Path, served: list[websocket.WebSocket], name: str, reader: object
) -> None:
    """Each recorded Bitfinex session reaches the client with every frame's text unchanged."""
    assert callable(reader)
    expected: list[str] = reader(bitfinex / name)
    with ReplayServer(bitfinex / name) as server:
        ws = connect(server, served)
        got = read_all(ws, len(expected))
        assert server.wait_done(5)
        assert server.frames_sent == len(expected) == server.frames_sent_to(server.completed[0])
        ws.close()
    assert got == expected
    assert [t for _, t in load_frames(bitfinex / name)] == expected


def test_cryptofeed_times_and_skipped_lines(bitfinex: Path) -> None:
    """load_frames keeps the receive times of the cryptofeed format and drops sent and connect lines."""
    frames = load_frames(bitfinex / "cryptofeed_ws_seq_all.txt")
    info = '{"event":"info","version":2,"serverId":"083bd8d4-aca7-4690-a573-eabfc8103de8","platform":{"status":1}}'
    assert frames[0] == (1618677543.83163, info)
    assert all(ts is not None for ts, _ in frames)
    sent = 'wss://api.bitfinex.com/ws/2 <- 1618677543.8: {"event":"conf","flags":65536}'  # real-url-ok
    assert parse_line(sent) is None
    assert parse_line("wss://api.bitfinex.com/ws/2 <-> 1618677543.367689") is None  # real-url-ok
    assert parse_line("wss://api.bitfinex.com/ws/2 -> 1618677545.57: [225206,[215350,0,1],18]") == (  # real-url-ok
        1618677545.57, "[225206,[215350,0,1],18]"
    )
    assert parse_line("   \n") is None
    with pytest.raises(ValueError, match="line 7"):
        parse_line("garbage", 7)


def test_bpbfx_recordings_serve_frame_records_only(
    tmp_path: Path, bitfinex: Path, served: list[websocket.WebSocket]
) -> None:
    """A bpbfx recording (plain or gzip) serves its frame records' data, skipping header and lifecycle records."""
    frames = raw_lines(bitfinex / "bbgo_ws_private.jsonl")
    records: list[dict[str, object]] = [
        {"kind": "header", "exchange": "bitfinex", "streams": [], "bpbfx": "0.1.0", "format": 1, "ts": 1.0, "part": 0},
        {"ts": 1736172778.1, "kind": "open", "exchange": "bitfinex", "conn": 0},
    ]
    for i, text in enumerate(frames):
        rec: dict[str, object] = {"ts": 1736172778.2 + i / 1000, "kind": "frame", "exchange": "bitfinex", "conn": 0}
        if i == 3:
            rec["data_b64"] = base64.b64encode(text.encode()).decode()
        else:
            rec["data"] = text
        records.append(rec)
        if i == 10:
            records.append({"ts": 1736172779.0, "kind": "close", "exchange": "bitfinex", "conn": 0, "code": None,
                            "reason": "connection lost"})
            records.append({"ts": 1736172779.1, "kind": "reconnect", "exchange": "bitfinex", "conn": 0, "attempt": 1})
    body = "\n".join(json.dumps(r) for r in records) + "\n"
    plain = tmp_path / "rec.jsonl"
    plain.write_text(body)
    packed = tmp_path / "rec.jsonl.gz"
    packed.write_bytes(gzip.compress(body.encode()))
    for path in (plain, packed):
        loaded = load_frames(path)
        assert [t for _, t in loaded] == frames
        assert loaded[0][0] == pytest.approx(1736172778.2)
        with ReplayServer(path) as server:
            ws = connect(server, served)
            assert read_all(ws, len(frames)) == frames
            ws.close()


def test_start_on_first_message_waits_for_the_client(served: list[websocket.WebSocket]) -> None:
    """With start_on="first_message" nothing is sent before the client's first frame, which is recorded."""
    with ReplayServer(['{"event":"info"}', "[1,[2,3]]"], start_on="first_message") as server:
        ws = connect(server, served)
        assert server.wait_for_connections(1)
        ws.settimeout(0.2)
        with pytest.raises(websocket.WebSocketTimeoutException):
            text_of(ws)
        assert server.frames_sent == 0
        ws.settimeout(5)
        ws.send('{"event":"subscribe","channel":"book"}')
        assert read_all(ws, 2) == ['{"event":"info"}', "[1,[2,3]]"]
        assert server.received_frames() == [{"event": "subscribe", "channel": "book"}]
        ws.close()


def test_speed_follows_the_recorded_times(served: list[websocket.WebSocket]) -> None:
    """speed=k spreads frames over (last - first) / k seconds; speed=None sends them at once."""
    frames = [(100.0, "[1]"), (100.4, "[2]"), (100.8, "[3]")]
    with ReplayServer(frames, speed=2.0) as server:
        ws = connect(server, served)
        first = text_of(ws)
        t0 = time.monotonic()
        rest = read_all(ws, 2)
        paced = time.monotonic() - t0
        ws.close()
    assert [first, *rest] == ["[1]", "[2]", "[3]"]
    assert 0.35 <= paced < 2.0
    with ReplayServer(frames) as server:
        ws = connect(server, served)
        t0 = time.monotonic()
        assert read_all(ws, 3) == ["[1]", "[2]", "[3]"]
        assert time.monotonic() - t0 < 0.3
        ws.close()
    assert server.duration() == pytest.approx(0.8)


def test_loop_starts_over_and_close_at_end_closes(served: list[websocket.WebSocket]) -> None:
    """loop=True repeats the recording; close_at_end=True closes with 1000 after the last frame."""
    with ReplayServer(["[1]", "[2]", "[3]"], loop=True) as server:
        ws = connect(server, served)
        assert read_all(ws, 7) == ["[1]", "[2]", "[3]", "[1]", "[2]", "[3]", "[1]"]
        assert not server.done
        ws.close()
    with ReplayServer(["[1]", "[2]"], close_at_end=True) as server:
        ws = connect(server, served)
        assert read_all(ws, 2) == ["[1]", "[2]"]
        opcode, data = ws.recv_data(control_frame=True)
        assert opcode == websocket.ABNF.OPCODE_CLOSE and int.from_bytes(data[:2], "big") == 1000
        assert server.wait_done(5)
        ws.shutdown()  # type: ignore[no-untyped-call]  # the server waits for the client to drop TCP after the closing handshake


def test_every_client_gets_the_whole_recording(bitfinex: Path, served: list[websocket.WebSocket]) -> None:
    """Each connecting client gets its own full replay; counters add up."""
    expected = raw_lines(bitfinex / "bbgo_ws_private.jsonl")
    with ReplayServer(bitfinex / "bbgo_ws_private.jsonl") as server:
        sockets = [connect(server, served) for _ in range(3)]
        for ws in sockets:
            assert read_all(ws, len(expected)) == expected
        assert server.wait_done(5, clients=3)
        assert server.frames_sent == 3 * len(expected)
        for ws in sockets:
            ws.close()


def test_bad_arguments_and_lines_are_refused(tmp_path: Path) -> None:
    """A bad speed or start_on, or a file with an unreadable line, raises ValueError."""
    with pytest.raises(ValueError):
        ReplayServer(["[1]"], speed=0)
    with pytest.raises(ValueError):
        ReplayServer(["[1]"], start_on="never")  # type: ignore[arg-type]
    bad = tmp_path / "bad.txt"
    bad.write_text('[1]\n{"event":"info"}\nnot a frame\n')
    with pytest.raises(ValueError, match="line 3"):
        load_frames(bad)
