"""Bitfinex connection state machine fed with recorded and constructed frames (no sockets)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from bpbfx import (
    AuthenticationError,
    ChecksumMismatchError,
    ConnectionLostError,
    MalformedFrameError,
    RateLimitError,
    SequenceGapError,
    StreamSilentError,
    SubscriptionError,
    UnknownEvent,
    UnsupportedVersionError,
)
from bpbfx.bitfinex import outputs as o
from bpbfx.bitfinex import protocol as p
from bpbfx.bitfinex.auth import Credentials, NonceSource
from bpbfx.bitfinex.book import BitfinexBook
from bpbfx.bitfinex.channels import from_message, subscription
from bpbfx.bitfinex.events import (
    AuthResult,
    BookSnapshot,
    BookUpdate,
    Checksum,
    Heartbeat,
    Info,
    Subscribed,
    TradeUpdate,
)
from bpbfx.events import Event


def received_frames(path: Path) -> list[str]:
    """Frames the exchange sent, from either recording format."""
    out = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith(("[", "{")):
            out.append(line)
        elif " -> " in line:
            out.append(line.split(": ", 1)[1])
        elif " <-" not in line and ": " in line and line[0].isdigit():
            out.append(line.split(": ", 1)[1])
    return out



def payload(out: o.Output) -> Any:
    """The one field an output carries (its frame, event, error, reason, flag, subscription...)."""
    return getattr(out, dataclasses.fields(out)[0].name)


def replay(frames: list[str], flags: int) -> tuple[list[Event], list[o.Output], p.BitfinexProtocol]:
    books: dict[str, BitfinexBook] = {}
    for frame in frames:
        msg = json.loads(frame)
        if isinstance(msg, dict) and msg.get("event") == "subscribed" and msg.get("channel") == "book":
            sub = from_message(msg)
            books[sub.stream] = BitfinexBook(sub.symbol or "", sub.prec or "P0", sub.length or 25, stream=sub.stream)
    proto = p.BitfinexProtocol(flags=flags, books=books, adopt_unrequested=True)
    proto.connection_made()
    proto.take_outputs()
    events: list[Event] = []
    actions: list[o.Output] = []
    for i, frame in enumerate(frames):
        event = proto.receive(frame, float(i))
        if event is not None:
            events.append(event)
        actions += proto.take_outputs()
        for book in books.values():
            if book.valid and not book.is_funding:  # funding books mix periods: bids may exceed asks
                assert not book.book.is_crossed(), f"crossed book after frame {i}: {frame[:80]}"
    events += [payload(a) for a in actions if type(a) is o.Deliver]
    return events, actions, proto


@pytest.mark.parametrize(
    ("name", "flags"),
    [("bbgo_ws_public.jsonl", 0), ("bbgo_ws_private.jsonl", 0), ("cryptofeed_ws_seq_all.txt", p.SEQ_ALL)],
)
def test_recordings_replay_without_unknown_messages(data_dir: Path, name: str, flags: int) -> None:
    """Every recorded frame decodes to a known event; no gap or reconnect is requested."""
    frames = received_frames(data_dir / "bitfinex" / name)
    events, actions, proto = replay(frames, flags)
    unknown = [e for e in events if isinstance(e, UnknownEvent)]
    assert unknown == []
    assert not [a for a in actions if type(a) in (o.Reconnect, o.Fatal, o.Resynced)]
    errors = [payload(a) for a in actions if type(a) is o.Report]
    if name == "bbgo_ws_private.jsonl":
        assert [type(e) for e in errors] == [SubscriptionError] and errors[0].code == 10300
        assert [type(a) for a in actions if type(a) is o.DropChannel] == []  # not requested here: nothing to drop
        assert any(isinstance(e, AuthResult) and e.ok for e in events)
    else:
        assert errors == []
    assert len(events) >= len(frames) - 5
    assert any(isinstance(e, Heartbeat) for e in events)
    if name != "bbgo_ws_private.jsonl":
        assert any(isinstance(e, BookSnapshot) for e in events) and any(isinstance(e, BookUpdate) for e in events)
        assert all(book.valid for book in proto.books.values())
    if flags:
        assert proto.seq is not None and proto.seq > 1000


def test_public_recording_events_carry_channel_identity(data_dir: Path) -> None:
    """Trades, heartbeats and book frames are tagged with their canonical stream and symbol."""
    events, _, proto = replay(received_frames(data_dir / "bitfinex" / "bbgo_ws_public.jsonl"), 0)
    trades = [e for e in events if isinstance(e, TradeUpdate)]
    assert trades and trades[0].stream == "trades:tBTCUSD" and trades[0].symbol == "tBTCUSD"
    subscribed = [e for e in events if isinstance(e, Subscribed)]
    assert {s.stream for s in subscribed} >= {"ticker:tBTCUSD", "trades:tBTCUSD", "book:tBTCUSD:P0:F0:25"}
    book = proto.books["book:tBTCUSD:P0:F0:25"]
    assert book.book.best_bid() is not None and book.book.best_ask() is not None


def test_sequence_gap_requests_reconnect() -> None:
    """With SEQ_ALL a skipped number on the socket asks for a resync of the connection."""
    proto = p.BitfinexProtocol(flags=p.SEQ_ALL, adopt_unrequested=True)
    proto.connection_made()
    proto.receive('{"event":"subscribed","channel":"trades","chanId":5,"symbol":"tBTCUSD","pair":"BTCUSD"}', 0)
    proto.take_outputs()
    proto.receive('[5,"hb",1]', 1)
    proto.receive('[5,"hb",2]', 2)
    assert proto.outbox == []
    proto.receive('[5,"hb",4]', 3)
    (action,) = proto.outbox
    assert type(action) is o.Reconnect and isinstance(payload(action), SequenceGapError)
    assert (payload(action).expected, payload(action).got) == (3, 4)


def test_seq_and_timestamp_are_stripped_and_kept() -> None:
    """SEQ_ALL and TIMESTAMP fields are removed from the payload and set on the event."""
    proto = p.BitfinexProtocol(flags=p.SEQ_ALL | p.TIMESTAMP, adopt_unrequested=True)
    proto.connection_made()
    proto.receive('{"event":"subscribed","channel":"trades","chanId":7,"symbol":"tBTCUSD","pair":"BTCUSD"}', 0)
    snap = proto.receive("[7,[[1,1700000000000,0.5,100]],1,1700000000001]", 1)
    te = proto.receive('[7,"te",[2,1700000000002,-0.25,101],2,1700000000003]', 2)
    hb = proto.receive('[7,"hb",3,1700000000004]', 3)
    assert isinstance(te, TradeUpdate) and te.seq == 2 and te.ts_ms == 1700000000003
    assert str(te.trade.amount) == "-0.25"
    assert isinstance(hb, Heartbeat) and hb.seq == 3
    assert snap is not None and getattr(snap, "seq", None) == 1


def subscribed_proto(flags: int = p.OB_CHECKSUM) -> tuple[p.BitfinexProtocol, BitfinexBook]:
    sub = subscription("book", symbol="tXRPBTC", prec="P0", freq="F0", len=25)
    book = BitfinexBook("tXRPBTC", "P0", 25, stream=sub.stream)
    proto = p.BitfinexProtocol(flags=flags, books={sub.stream: book})
    proto.add(sub)
    proto.connection_made()
    (conf, request) = [json.loads(payload(a)) for a in proto.outbox]
    assert conf == {"event": "conf", "flags": flags}
    assert request["subId"] == sub.stream
    proto.take_outputs()
    reply = dict(request, event="subscribed", chanId=123, pair="XRPBTC", len="25")
    proto.receive(json.dumps(reply), 0)
    proto.take_outputs()
    return proto, book


def test_checksum_vectors_verified_through_the_protocol(data_dir: Path) -> None:
    """The official checksum vectors pass through the state machine and count as checks."""
    vectors = json.loads((data_dir / "bitfinex" / "checksum_vectors.json").read_text())["vectors"]
    vector = vectors[0]
    proto, book = subscribed_proto()
    for i, frame in enumerate(vector["frames"]):
        event = proto.receive(frame, float(i))
        assert event is not None
    assert isinstance(event, Checksum) and event.checksum == vector["checksum"]
    assert proto.outbox == [] and proto.checks_passed == 1 and book.valid


def test_checksum_mismatch_resubscribes_the_channel(data_dir: Path) -> None:
    """A wrong cs is reported, the book is invalidated and the channel is asked for again."""
    vector = json.loads((data_dir / "bitfinex" / "checksum_vectors.json").read_text())["vectors"][0]
    proto, book = subscribed_proto()
    for frame in vector["frames"][:-1]:
        proto.receive(frame, 1.0)
    proto.receive('[123,"cs",12345]', 2.0)
    kinds = [type(a) for a in proto.outbox]
    assert kinds == [o.Report, o.Resynced, o.Send, o.Send]
    err = payload(proto.outbox[0])
    assert isinstance(err, ChecksumMismatchError) and err.expected == 12345 and err.got == vector["checksum"]
    assert json.loads(payload(proto.outbox[2])) == {"event": "unsubscribe", "chanId": 123}
    assert json.loads(payload(proto.outbox[3]))["event"] == "subscribe"
    assert not book.valid and 123 not in proto.channels
    assert proto.receive("[123,[0.0000886,1,5]]", 3.0) is None  # in-flight data of the dropped channel


def test_heartbeat_watchdog_resubscribes_a_silent_channel() -> None:
    """A channel quiet for longer than the heartbeat timeout is reported and resubscribed."""
    proto, _ = subscribed_proto()
    proto.heartbeat_timeout = 20.0
    proto.check(19.0)
    assert proto.outbox == []
    proto.check(21.0)
    kinds = [type(a) for a in proto.outbox]
    assert kinds[:2] == [o.Report, o.Resynced] and isinstance(payload(proto.outbox[0]), StreamSilentError)


def test_info_codes() -> None:
    """20051 asks for a reconnect, 20060 pauses, 20061 resumes and resubscribes everything."""
    proto, _ = subscribed_proto()
    proto.receive('{"event":"info","code":20051,"msg":"Stopping. Please try to reconnect"}', 1)
    assert [type(a) for a in proto.outbox] == [o.Deliver, o.Reconnect]
    assert isinstance(payload(proto.outbox[1]), ConnectionLostError)
    proto.take_outputs()
    proto.receive('{"event":"info","code":20060,"msg":"Entering in Maintenance mode"}', 2)
    assert [type(a) for a in proto.outbox] == [o.Deliver, o.PauseWatchdog] and proto.paused
    proto.check(1000.0)  # no watchdog alarm while in maintenance
    assert [type(a) for a in proto.outbox] == [o.Deliver, o.PauseWatchdog]
    proto.take_outputs()
    proto.receive('{"event":"info","code":20061,"msg":"Maintenance ended"}', 3)
    kinds = [type(a) for a in proto.outbox]
    assert kinds[:3] == [o.Deliver, o.PauseWatchdog, o.Resynced] and kinds.count(o.Send) == 2 and not proto.paused


def test_version_other_than_2_is_refused() -> None:
    """An info frame announcing another API version is fatal with a clear error."""
    proto = p.BitfinexProtocol()
    proto.connection_made()
    proto.take_outputs()
    proto.receive('{"event":"info","version":3,"serverId":"x","platform":{"status":1}}', 0)
    fatal = [payload(a) for a in proto.outbox if type(a) is o.Fatal]
    assert len(fatal) == 1 and isinstance(fatal[0], UnsupportedVersionError) and "version 2" in str(fatal[0])


def test_platform_maintenance_on_connect_is_surfaced() -> None:
    """platform status 0 on connect is delivered, reported and pauses the socket."""
    proto = p.BitfinexProtocol()
    proto.connection_made()
    proto.take_outputs()
    proto.receive('{"event":"info","version":2,"serverId":"x","platform":{"status":0}}', 0)
    kinds = [type(a) for a in proto.outbox]
    assert kinds == [o.Deliver, o.PauseWatchdog, o.Report] and isinstance(payload(proto.outbox[0]), Info)


def test_channel_limit_error_hands_the_channel_back() -> None:
    """10305 removes the channel from this socket and asks the client to place it elsewhere."""
    proto = p.BitfinexProtocol()
    sub = subscription("trades", symbol="tETHUSD")
    proto.add(sub)
    proto.connection_made()
    proto.take_outputs()
    proto.receive(json.dumps({"event": "error", "msg": "subscribe: limit", "code": 10305,
                              "channel": "trades", "symbol": "tETHUSD", "subId": sub.stream}), 0)
    kinds = [type(a) for a in proto.outbox]
    assert kinds == [o.Report, o.MoveChannel] and payload(proto.outbox[1]) == sub
    assert isinstance(payload(proto.outbox[0]), RateLimitError) and sub not in proto.subs


def test_auth_request_and_failure() -> None:
    """The socket authenticates on connect; a FAILED reply is an AuthenticationError without secrets."""
    creds = Credentials("key-123456789", "very-secret-value")
    proto = p.BitfinexProtocol(credentials=creds, nonce_source=NonceSource(clock=lambda: 1_700_000_000_000_000))
    proto.connection_made()
    auth = json.loads(payload(proto.outbox[-1]))
    assert auth["event"] == "auth" and auth["authPayload"] == f"AUTH{auth['authNonce']}"
    proto.take_outputs()
    proto.receive('{"event":"auth","status":"FAILED","chanId":0,"code":10114,"msg":"nonce: small"}', 0)
    err = next(payload(a) for a in proto.outbox if type(a) is o.Report)
    assert isinstance(err, AuthenticationError) and err.code == 10114 and "nonce" in str(err)
    assert "very-secret-value" not in repr(err.request) and "very-secret-value" not in str(err)
    assert not proto.ready


def test_unknown_channel_data_is_delivered_not_dropped() -> None:
    """Data on a chanId nobody subscribed is delivered as UnknownEvent."""
    proto = p.BitfinexProtocol()
    event = proto.receive("[999,[1,2,3]]", 0)
    assert isinstance(event, UnknownEvent) and event.data == [999, [1, 2, 3]]




def test_unanswered_subscribe_replaces_the_socket() -> None:
    """A subscribe request with no reply for longer than the heartbeat timeout asks for a reconnect."""
    proto = p.BitfinexProtocol(heartbeat_timeout=5.0)
    proto.add(subscription("ticker", symbol="tBTCUSD"))
    proto.connection_made()
    proto.take_outputs()
    proto.check(100.0)
    proto.check(104.0)
    assert proto.outbox == []
    proto.check(105.5)
    (action,) = proto.outbox
    assert type(action) is o.Reconnect and isinstance(payload(action), StreamSilentError)
    assert "no reply to the subscribe request" in str(payload(action))


ORDER_ROW = (
    '[1,null,7,"tBTCUSD",1,1,0.1,0.1,"EXCHANGE LIMIT",null,null,null,0,"ACTIVE",null,null,100,0,0,0,'
    "null,null,null,0,0,null,null,null,\"API>BFX\",null,null,null]"
)


def account_proto() -> p.BitfinexProtocol:
    proto = p.BitfinexProtocol(flags=p.SEQ_ALL)
    proto.connection_made()
    proto.take_outputs()
    return proto


def reconnects(proto: p.BitfinexProtocol) -> list[SequenceGapError]:
    gaps = [payload(a) for a in proto.outbox if type(a) is o.Reconnect]
    proto.take_outputs()
    return gaps


def test_channel0_reads_both_sequence_numbers_and_notifications_cause_no_false_gap() -> None:
    """[0,TYPE,DATA,PUB_SEQ,AUTH_SEQ] advances both counters; a request notification with one
    number (the current AUTH_SEQ) and another notification with both, repeating AUTH_SEQ
    (bitfinex-api-node #429), report no gap; a real public gap still does."""
    proto = account_proto()
    proto.receive('[0,"hb",1]', 0)
    proto.receive(f'[0,"on",{ORDER_ROW},2,1]', 0)
    proto.receive(f'[0,"n",[1,"on-req",null,null,{ORDER_ROW},null,"SUCCESS","ok"],1]', 0)  # single: AUTH_SEQ
    proto.receive('[0,"n",[1,"ucm-notify-ui",null,null,{},null,"info","hello"],3,1]', 0)  # both, auth repeated
    proto.receive(f'[0,"oc",{ORDER_ROW},4,2]', 0)
    proto.receive('[0,"hb",5]', 0)
    assert reconnects(proto) == []
    assert (proto.seq, proto.auth_seq) == (5, 2)
    proto.receive('[0,"hb",7]', 0)
    (gap,) = reconnects(proto)
    assert (gap.expected, gap.got) == (6, 7)


def test_single_number_is_never_reported_as_a_gap() -> None:
    """A lone trailing number that fits neither counter is ambiguous: no gap, nothing advanced."""
    proto = account_proto()
    proto.receive(f'[0,"on",{ORDER_ROW},10,20]', 0)
    proto.receive('[0,"n",[1,"on-req",null,null,[],null,"SUCCESS","ok"],99]', 0)
    assert reconnects(proto) == []
    assert (proto.seq, proto.auth_seq) == (10, 20)


def test_auth_sequence_gap_is_reported_separately() -> None:
    """A skipped AUTH_SEQ on account data re-authenticates, reported on the account stream."""
    proto = account_proto()
    proto.receive(f'[0,"on",{ORDER_ROW},1,1]', 0)
    proto.receive(f'[0,"ou",{ORDER_ROW},2,3]', 0)
    (gap,) = reconnects(proto)
    assert gap.stream == "account" and "auth" in str(gap) and (gap.expected, gap.got) == (2, 3)


@pytest.mark.parametrize("frame", ['[0,"hb",1.5]', '[5,"hb","3"]', '[0,"on",[],[1],2]', '[5,[1],true]'])
def test_sequence_number_of_the_wrong_type_is_malformed(frame: str) -> None:
    """A trailing sequence number that is not an integer is a MalformedFrameError."""
    proto = account_proto()
    with pytest.raises(MalformedFrameError, match="sequence number"):
        proto.receive(frame, 0)
