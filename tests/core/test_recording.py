"""The recording format: writing, reading (plain and gzip), rotation, truncation and replay."""

from __future__ import annotations

import gzip
import json
import threading
from pathlib import Path
from typing import Any

import pytest

import bpbfx
from bpbfx import BackpackClient, ConnectionLostError
from bpbfx.recording import (
    FORMAT_VERSION,
    Record,
    Recorder,
    RecordingError,
    feed_records,
    is_recording,
    iter_records,
    part_path,
    read_recording,
)

DEPTH = (
    '{"data":{"E":1736172778162587,"T":1736172778151673,"U":1802083134,"a":[["219.00","2.98"]],'
    '"b":[["218.12","0.02"],["218.60","0.00"]],"e":"depth","s":"SOL_USDC","u":1802083137},"stream":"depth.SOL_USDC"}'
)
TRADE = (
    '{"stream":"trade.SOL_USDC","data":{"e":"trade","E":1736172778162600,"s":"SOL_USDC","p":"218.60",'
    '"q":"0.02","b":"111","a":"222","t":300000001,"T":1736172778162500,"m":true}}'
)


class FakeClock:
    """A wall clock that advances by one second per reading."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def lines(path: Path) -> list[dict[str, Any]]:
    opener: Any = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def test_header_first_then_frames_in_documented_shape(tmp_path: Path) -> None:
    """The header comes first; a frame line has ts, kind, exchange, conn, data in that order."""
    path = tmp_path / "rec.jsonl"
    with Recorder(path, "backpack", ["depth.SOL_USDC"], clock=FakeClock(), meta={"url": "ws://x"}) as rec:
        rec.write_frame(DEPTH.encode(), conn=0)
    header, frame = lines(path)
    assert header == {
        "kind": "header",
        "exchange": "backpack",
        "streams": ["depth.SOL_USDC"],
        "bpbfx": bpbfx.__version__,
        "format": FORMAT_VERSION,
        "ts": 1_700_000_001.0,
        "part": 0,
        "url": "ws://x",
    }
    assert list(frame) == ["ts", "kind", "exchange", "conn", "data"]
    assert frame == {"ts": 1_700_000_002.0, "kind": "frame", "exchange": "backpack", "conn": 0, "data": DEPTH}


def test_frames_round_trip_exactly_including_unicode_and_binary(tmp_path: Path) -> None:
    """Text frames come back byte for byte; a frame that is not UTF-8 survives as base64."""
    path = tmp_path / "rec.jsonl"
    texts = [DEPTH, TRADE, '{"event":"info","msg":"caf\u00e9 \u2603 \\"quoted\\"\\n"}', "[1,\"hb\"]"]
    with Recorder(path, "bitfinex", ["trades:tBTCUSD"]) as rec:
        for i, text in enumerate(texts):
            rec.write_frame(text.encode() if i % 2 else text, conn=i % 2, ts=100.0 + i)
        rec.write_frame(b"\xff\xfe not utf-8", conn=1, ts=200.0)
    records = [r for r in iter_records(path) if r.kind == "frame"]
    assert [r.data for r in records[:4]] == texts
    assert [r.conn for r in records] == [0, 1, 0, 1, 1]
    assert [r.ts for r in records] == [100.0, 101.0, 102.0, 103.0, 200.0]
    assert records[4].data is not None and records[4].data.endswith(" not utf-8")
    assert "data_b64" in records[4].fields


def test_lifecycle_records_keep_their_fields(tmp_path: Path) -> None:
    """open / close / reconnect lines carry conn and their own fields."""
    path = tmp_path / "rec.jsonl"
    with Recorder(path, "backpack") as rec:
        rec.write_event("open", 0, ts=1.0)
        rec.write_event("close", 0, ts=2.0, code=1006, reason="connection lost")
        rec.write_event("reconnect", 0, ts=3.0, attempt=1)
    kinds = [(r.kind, r.conn, r.ts) for r in iter_records(path)]
    assert kinds == [("header", None, kinds[0][2]), ("open", 0, 1.0), ("close", 0, 2.0), ("reconnect", 0, 3.0)]
    close = list(iter_records(path))[2]
    assert close.fields["code"] == 1006 and close.fields["reason"] == "connection lost"


@pytest.mark.parametrize("name, compress", [("rec.jsonl.gz", None), ("rec.jsonl", True)])
def test_gzip_by_suffix_or_flag_is_read_back_transparently(tmp_path: Path, name: str, compress: bool | None) -> None:
    """A .gz name or compress=True writes gzip; the reader detects it from the content."""
    path = tmp_path / name
    with Recorder(path, "backpack", compress=compress) as rec:
        for _ in range(50):
            rec.write_frame(TRADE, ts=1.0)
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    recording = read_recording(path)
    assert recording.exchange == "backpack"
    assert recording.frames == 50 and not recording.truncated
    assert is_recording(path)


def test_part_path_numbers_rotated_files_before_the_extension(tmp_path: Path) -> None:
    """Part 0 is the name given; later parts insert .NNNN before the extension(s)."""
    assert part_path(tmp_path / "rec.jsonl", 0) == tmp_path / "rec.jsonl"
    assert part_path(tmp_path / "rec.jsonl", 2) == tmp_path / "rec.0002.jsonl"
    assert part_path(tmp_path / "rec.jsonl.gz", 1) == tmp_path / "rec.0001.jsonl.gz"
    assert part_path(tmp_path / "rec", 3) == tmp_path / "rec.0003"


def test_rotation_starts_new_parts_each_with_a_header(tmp_path: Path) -> None:
    """rotate_frames=3 with 7 frames makes three parts; read together they are the 7 frames in order."""
    path = tmp_path / "rec.jsonl"
    with Recorder(path, "backpack", ["trade.SOL_USDC"], rotate_frames=3) as rec:
        for i in range(7):
            rec.write_frame(f'{{"n":{i}}}', ts=float(i))
    assert rec.paths == [path, tmp_path / "rec.0001.jsonl", tmp_path / "rec.0002.jsonl"]
    assert [lines(p)[0]["part"] for p in rec.paths] == [0, 1, 2]
    assert [len(lines(p)) - 1 for p in rec.paths] == [3, 3, 1]
    recording = read_recording(rec.paths)
    assert [json.loads(r.data or "")["n"] for r in recording.records] == list(range(7))
    assert recording.streams == ("trade.SOL_USDC",)


def test_parts_of_different_exchanges_are_refused(tmp_path: Path) -> None:
    """Reading parts recorded from two exchanges as one recording is an error."""
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    Recorder(a, "backpack").close()
    Recorder(b, "bitfinex").close()
    with pytest.raises(RecordingError, match="bitfinex"):
        read_recording([a, b])


def test_max_frames_sets_full_and_drops_later_frames(tmp_path: Path) -> None:
    """After max_frames frames, full is set and further frames are not written."""
    path = tmp_path / "rec.jsonl"
    rec = Recorder(path, "backpack", max_frames=2)
    assert rec.write_frame(TRADE) and not rec.full.is_set()
    assert rec.write_frame(TRADE) and rec.full.is_set()
    assert not rec.write_frame(TRADE)
    rec.close()
    assert rec.frames == 2 and read_recording(path).frames == 2
    assert not rec.write_frame(TRADE) and not rec.write_event("open", 0)


def test_truncated_gzip_yields_complete_records_unless_strict(tmp_path: Path) -> None:
    """A gzip file cut short (a killed recorder) gives its complete records; strict raises."""
    path = tmp_path / "rec.jsonl.gz"
    with Recorder(path, "backpack") as rec:
        for i in range(2000):
            rec.write_frame(f'{{"n":{i},"pad":"{"x" * 40}"}}', ts=float(i))
    data = path.read_bytes()
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(data[: len(data) // 2])
    records = list(iter_records(cut))
    assert records[0].kind == "header" and 0 < len(records) - 1 < 2000
    assert [json.loads(r.data or "")["n"] for r in records[1:]] == list(range(len(records) - 1))
    assert read_recording(cut).truncated
    with pytest.raises(RecordingError, match="truncated"):
        list(iter_records(cut, strict=True))


def test_incomplete_last_line_is_ignored_but_a_bad_middle_line_is_an_error(tmp_path: Path) -> None:
    """A last line without its newline is dropped; a malformed complete line names its line number."""
    path = tmp_path / "rec.jsonl"
    with Recorder(path, "backpack") as rec:
        rec.write_frame(TRADE, ts=1.0)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"ts":2.0,"kind":"frame","exch')
    recording = read_recording(path)
    assert recording.frames == 1 and recording.truncated
    bad = tmp_path / "bad.jsonl"
    bad.write_text(path.read_text().splitlines()[0] + "\nnot json\n" + '{"kind":"open","conn":0}\n')
    with pytest.raises(RecordingError) as info:
        list(iter_records(bad))
    assert info.value.line == 2 and "bad.jsonl:2" in str(info.value)


def test_is_recording_is_false_for_raw_frame_files(tmp_path: Path) -> None:
    """A file of raw exchange frames (one JSON frame per line) is not a bpbfx recording."""
    raw = tmp_path / "raw.jsonl"
    raw.write_text(DEPTH + "\n" + TRADE + "\n")
    assert not is_recording(raw)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert not is_recording(empty)


def test_concurrent_writers_never_interleave_lines(tmp_path: Path) -> None:
    """Frames written from several threads at once each land as one whole line."""
    path = tmp_path / "rec.jsonl"
    rec = Recorder(path, "bitfinex")
    start = threading.Barrier(4)

    def writer(conn: int) -> None:
        start.wait()
        for i in range(500):
            rec.write_frame(f'[{conn},"te",[{i},1,0.5,100]]', conn=conn)

    threads = [threading.Thread(target=writer, args=(c,)) for c in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rec.close()
    frames = [r for r in iter_records(path, strict=True) if r.kind == "frame"]
    assert len(frames) == 2000 == rec.frames
    for conn in range(4):
        mine = [json.loads(r.data or "")[2][0] for r in frames if r.conn == conn]
        assert mine == list(range(500))


def test_attach_records_raw_frames_and_lifecycle_and_keeps_user_hooks(tmp_path: Path) -> None:
    """attach() writes every frame a client receives plus open/close, and still calls earlier hooks."""
    path = tmp_path / "rec.jsonl"
    seen: list[str] = []
    client = BackpackClient("ws://127.0.0.1:9", books=False, on_open=lambda c: seen.append("open"))
    client.on_raw = lambda c, data, index: seen.append(f"raw{index}")
    rec = Recorder(path, "backpack", ["depth.SOL_USDC"])
    rec.attach(client)
    client.feed(DEPTH)
    assert client.on_open is not None
    client.on_open(client)  # as the reader thread does after a handshake
    client.feed(TRADE)
    client.close()
    rec.close()
    kinds = [(r.kind, r.conn) for r in iter_records(path)]
    assert kinds == [("header", None), ("frame", 0), ("open", 0), ("frame", 0), ("close", None)]
    final = list(iter_records(path))[-1]
    assert final.fields["final"] is True and final.fields["code"] == 1000
    assert seen == ["raw0", "open", "raw0"]


def _collect(client: BackpackClient) -> tuple[list[Any], list[BaseException], list[tuple[Any, ...]]]:
    got: list[Any] = []
    errors: list[BaseException] = []
    closes: list[tuple[Any, ...]] = []
    client.on_message = lambda c, e: got.append(e)
    client.on_error = lambda c, e: errors.append(e)
    client.on_close = lambda c, code, reason: closes.append((code, reason))
    return got, errors, closes


def test_feed_records_reproduces_the_events_of_feeding_the_frames(tmp_path: Path) -> None:
    """Replaying a recording gives the same events as the frames fed straight to a client."""
    frames = [DEPTH, TRADE, TRADE.replace("300000001", "300000002")]
    path = tmp_path / "rec.jsonl"
    with Recorder(path, "backpack") as rec:
        for f in frames:
            rec.write_frame(f)
    direct = BackpackClient("ws://127.0.0.1:9", books=False)
    expected, _, _ = _collect(direct)
    for f in frames:
        direct.feed(f)
    client = BackpackClient("ws://127.0.0.1:9", books=False)
    got, errors, _ = _collect(client)
    result = feed_records(client, read_recording(path).records)
    assert result.frames == 3 and not result.stopped
    assert got == expected and len(got) == 3 and not errors


def test_feed_records_plays_a_reconnect_through_the_client(tmp_path: Path) -> None:
    """A recorded close reaches on_error/on_close as live; a final close does not."""
    path = tmp_path / "rec.jsonl"
    with Recorder(path, "backpack") as rec:
        rec.write_event("open", 0)
        rec.write_frame(TRADE, conn=0)
        rec.write_event("close", 0, code=1006, reason="backpack: connection lost")
        rec.write_event("reconnect", 0, attempt=1)
        rec.write_event("open", 0)
        rec.write_frame(TRADE, conn=0)
        rec.write_event("close", None, code=1000, reason="closed by client", final=True)
    client = BackpackClient("ws://127.0.0.1:9", books=False)
    got, errors, closes = _collect(client)
    reconnects: list[int] = []
    client.on_reconnect = lambda c, attempt: reconnects.append(attempt)
    result = feed_records(client, read_recording(path).records)
    assert result.frames == 2 and result.lifecycle == 5 and result.skipped == 0
    assert len(got) == 2
    assert [type(e) for e in errors] == [ConnectionLostError]
    assert isinstance(errors[0], ConnectionLostError) and errors[0].close_code == 1006
    assert closes == [(1006, "backpack: connection lost")]
    assert reconnects == [1]


def test_feed_records_paces_by_recorded_time_with_speed() -> None:
    """speed=2.0 waits half the recorded gaps (clock and sleep injected: no real sleeping)."""
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(round(seconds, 6))
        now[0] += seconds

    records = [Record("frame", ts, "backpack", 0, TRADE, {}) for ts in (10.0, 11.0, 11.0, 15.0)]
    client = BackpackClient("ws://127.0.0.1:9", books=False)
    got, _, _ = _collect(client)
    feed_records(client, records, speed=2.0, clock=lambda: now[0], sleep=sleep)
    assert waits == [0.5, 2.0]
    assert len(got) == 4
    with pytest.raises(ValueError):
        feed_records(client, records, speed=0)


def test_feed_records_stops_when_asked() -> None:
    """Setting stop ends the feed early and says so."""
    stop = threading.Event()
    client = BackpackClient("ws://127.0.0.1:9", books=False)
    got: list[Any] = []

    def on_message(c: Any, e: Any) -> None:
        got.append(e)
        stop.set()

    client.on_message = on_message
    records = [Record("frame", None, "backpack", 0, TRADE, {}) for _ in range(5)]
    result = feed_records(client, records, stop=stop)
    assert result.stopped and result.frames == 1 and len(got) == 1


def _history(first: int, last: int) -> str:
    return json.dumps([{"id": i, "price": "218.60", "quantity": "0.02", "quoteQuantity": "4.372",
                        "timestamp": 1736172778000 + i, "isBuyerMaker": True} for i in range(first, last + 1)])


def test_backfill_records_keep_the_stream_and_the_answer_text(tmp_path: Path) -> None:
    """write_backfill writes {ts, kind: backfill, exchange, stream, data} with the answer's text
    unchanged; a backfill line without its stream is an error."""
    path = tmp_path / "b.jsonl"
    with Recorder(path, "backpack", ["trade.SOL_USDC"], clock=FakeClock()) as rec:
        assert rec.write_backfill("trade.SOL_USDC", _history(1, 2))
    line = json.loads(path.read_text().splitlines()[1])
    assert set(line) == {"ts", "kind", "exchange", "stream", "data"} and line["kind"] == "backfill"
    recording = read_recording(path)
    [record] = recording.records
    assert (record.kind, record.data, record.fields["stream"]) == ("backfill", _history(1, 2), "trade.SOL_USDC")
    assert recording.backfills == 1 and recording.frames == 0
    path.write_text(path.read_text().replace('"stream":"trade.SOL_USDC",', "") + "\n")
    with pytest.raises(RecordingError, match="backfill record without stream"):
        read_recording(path)


def test_feed_records_replays_a_backfill_into_backfilled_trades() -> None:
    """A backfill record after a reconnect gives the trades the tape had not delivered, marked
    backfill; a client without backfill_trades skips it."""
    trade = json.loads(TRADE)
    frames = []
    for t in (300000001, 300000002, 300000006):
        trade["data"]["t"] = t
        frames.append(Record("frame", None, "backpack", 0, json.dumps(trade), {}))
    backfill = Record("backfill", None, "backpack", None, _history(300000000, 300000004),
                      {"stream": "trade.SOL_USDC"})
    close = Record("close", None, "backpack", 0, None, {"reason": "lost"})
    opened = Record("open", None, "backpack", 0, None, {})
    records = [*frames[:2], close, opened, backfill, frames[2]]
    got: list[Any] = []
    client = BackpackClient("ws://127.0.0.1:9", streams=["trade.SOL_USDC"], backfill_trades=True,
                            on_message=lambda c, e: got.append(e), on_error=lambda c, e: None)
    result = feed_records(client, records)
    client.close()
    assert (result.frames, result.lifecycle, result.backfills, result.skipped) == (3, 2, 1, 0)
    assert [(e.trade_id, e.backfill) for e in got] == [
        (300000001, False), (300000002, False), (300000003, True), (300000004, True), (300000006, False)]
    plain = BackpackClient("ws://127.0.0.1:9", streams=["trade.SOL_USDC"], on_error=lambda c, e: None)
    assert feed_records(plain, records).skipped == 1
    plain.close()
