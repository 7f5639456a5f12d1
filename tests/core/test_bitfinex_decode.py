"""Bitfinex v2 frame decoding (bpbfx.bitfinex.decode) against recorded exchange traffic."""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from bpbfx.bitfinex import decode as bf_decode
from bpbfx.bitfinex import events as bev
from bpbfx.bitfinex.channels import Subscription, from_message, subscription
from bpbfx.bitfinex.decode import checksum, decode_account, decode_channel, decode_event, error_from_event, heartbeat
from bpbfx.events import Event, UnknownEvent, positional_factory
from bpbfx.exceptions import (
    AuthenticationError,
    ExchangeError,
    MalformedFrameError,
    RateLimitError,
    SubscriptionError,
)
from tests.support import DATA as RECORDED

DATA = RECORDED / "bitfinex"
D = Decimal
loads = json.JSONDecoder(parse_float=str).decode

# Public message types and channel-0 message types this version decodes.
KNOWN_CHANNEL_TYPES = {None, "hb", "cs", "te", "tu", "fte", "ftu"}
KNOWN_ACCOUNT_TYPES = {
    "os",
    "on",
    "ou",
    "oc",
    "ps",
    "pn",
    "pu",
    "pc",
    "ws",
    "wu",
    "bu",
    "te",
    "tu",
    "fte",
    "ftu",
    "n",
    "hb",
    "fos",
    "fon",
    "fou",
    "foc",
    "fcs",
    "fcn",
    "fcu",
    "fcc",
    "fls",
    "fln",
    "flu",
    "flc",
    "miu",
    "fiu",
}


# -- a small replay harness: what a connection does before it calls the decoders ---------------------


@dataclass
class Replay:
    """Feeds recorded frames through the decoders the way a connection would."""

    seq_all: bool = False
    subs: dict[int, Subscription] = field(default_factory=dict)
    seen_data: set[int] = field(default_factory=set)
    events: list[Event] = field(default_factory=list)
    seqs: list[int] = field(default_factory=list)
    unmapped: list[Any] = field(default_factory=list)

    def feed(self, msg: Any) -> Event | None:
        if isinstance(msg, dict):
            event = decode_event(msg)
            if isinstance(event, bev.Subscribed):
                self.subs[event.chan_id] = from_message(msg)
            self.events.append(event)
            return event
        chan_id, second, *rest = msg
        if second == "hb":
            msg_type: str | None = second
            payload, tail = None, rest
        elif isinstance(second, str):
            msg_type = second
            payload = rest[0] if rest else None
            tail = rest[1:]
        else:
            msg_type, payload, tail = None, second, rest
        seq = None
        if self.seq_all and tail:
            # SEQ_ALL appends the sequence number last (no TIMESTAMP flag in these recordings).
            seq = tail[-1]
            self.seqs.append(seq)
        if chan_id == 0:
            event = decode_account(msg_type or "", payload, seq=seq)
        elif chan_id not in self.subs:
            # The server may send a channel's heartbeat before its `subscribed` reply.
            self.unmapped.append(msg)
            return None
        else:
            sub = self.subs[chan_id]
            first = msg_type is None and chan_id not in self.seen_data
            if msg_type is None:
                self.seen_data.add(chan_id)
            event = decode_channel(sub, msg_type, payload, first=first, seq=seq)
            assert event.stream == sub.stream
        self.events.append(event)
        return event


def jsonl_frames(name: str) -> Iterator[Any]:
    with open(DATA / name, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield loads(line)


_RECEIVED = re.compile(r"^(?:\S+ -> )?[0-9.]+: (.*)$")


def cryptofeed_frames() -> Iterator[Any]:
    """Received frames of the cryptofeed capture.

    Lines are ``<url> <- <time>: <json>`` (sent), ``<url> <-> <time>`` (connect) or
    ``[<url> -> ]<time>: <json>`` (received).
    """
    with open(DATA / "cryptofeed_ws_seq_all.txt", encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if not line.strip() or " <- " in line or " <-> " in line:
                continue
            match = _RECEIVED.match(line)
            assert match is not None, line[:120]
            yield loads(match.group(1))


def frame_type(msg: Any) -> str | None:
    return msg[1] if isinstance(msg, list) and len(msg) > 1 and isinstance(msg[1], str) else None


def replay(frames: Iterator[Any], *, seq_all: bool = False) -> Replay:
    r = Replay(seq_all=seq_all)
    for msg in frames:
        event = r.feed(msg)
        assert event is not None or msg[1] == "hb", f"data before subscribed: {msg!r:.200}"
        if isinstance(event, UnknownEvent):
            # Only event types this version does not decode may be unknown.
            assert isinstance(msg, dict), f"known frame decoded as unknown: {msg!r:.200}"
            assert msg.get("event") not in {"info", "conf", "subscribed", "unsubscribed", "pong", "auth", "error"}
    return r


def kinds(r: Replay) -> Counter[str]:
    return Counter(type(e).__name__ for e in r.events)


# -- whole recordings ---------------------------------------------------------------------------------


def test_public_recording_decodes_without_unknown_events() -> None:
    """Every frame of the public bbgo recording decodes to a specific event, never UnknownEvent."""
    r = replay(jsonl_frames("bbgo_ws_public.jsonl"))
    count = kinds(r)
    assert count["UnknownEvent"] == 0
    for name in (
        "Info",
        "Subscribed",
        "TradingTicker",
        "FundingTicker",
        "TradesSnapshot",
        "TradeUpdate",
        "BookSnapshot",
        "BookUpdate",
        "FundingBookSnapshot",
        "FundingBookUpdate",
        "Heartbeat",
    ):
        assert count[name] > 0, name
    assert sum(count.values()) == sum(1 for _ in jsonl_frames("bbgo_ws_public.jsonl"))


def test_private_recording_decodes_without_unknown_events() -> None:
    """Every channel-0 frame of the authenticated bbgo recording decodes to a specific event."""
    r = replay(jsonl_frames("bbgo_ws_private.jsonl"))
    count = kinds(r)
    assert count["UnknownEvent"] == 0
    for name in (
        "AuthResult",
        "ErrorReply",
        "PositionsSnapshot",
        "WalletsSnapshot",
        "OrdersSnapshot",
        "FundingOffersSnapshot",
        "FundingCreditsSnapshot",
        "FundingLoansSnapshot",
        "WalletUpdate",
        "AccountTradeUpdate",
        "OrderUpdate",
        "BalanceUpdate",
        "Heartbeat",
    ):
        assert count[name] > 0, name
    assert all(e.stream == bev.ACCOUNT_STREAM for e in r.events if not isinstance(e, (bev.Info, bev.ErrorReply)))


def test_seq_all_recording_decodes_with_sequence_numbers() -> None:
    """The SEQ_ALL cryptofeed capture decodes fully and the stripped sequence numbers count up by one."""
    frames = list(cryptofeed_frames())
    assert len(frames) > 1500
    r = replay(iter(frames), seq_all=True)
    count = kinds(r)
    assert count["UnknownEvent"] == 0
    assert count["Conf"] == 1 and count["TradesSnapshot"] == 7 and count["BookSnapshot"] == 7
    assert all(m[1] == "hb" for m in r.unmapped)
    assert r.seqs == list(range(r.seqs[0], r.seqs[0] + len(r.seqs)))
    data_events = [e for e in r.events if isinstance(e, (bev.TradingTicker, bev.BookUpdate, bev.Heartbeat))]
    assert data_events and all(e.seq is not None for e in data_events)
    hb = next(e for e in r.events if isinstance(e, bev.Heartbeat))
    assert (hb.stream, hb.seq, hb.symbol) == ("book:tODEUSD:P0:F0:100", 127, "tODEUSD")


# -- field values -------------------------------------------------------------------------------------

TBTC_BOOK = subscription("book", symbol="tBTCUSD")
FUST_BOOK = subscription("book", symbol="fUST")


def test_trading_ticker_fields() -> None:
    """A trading ticker maps BID..LOW in order, exactly, with the market as symbol."""
    sub = subscription("ticker", symbol="tBTCUSD")
    payload = loads("[118940,43.23174788,118950,44.36048532,-3710,-0.03025608,118910,372.10417038,122620,117190]")
    ev = decode_channel(sub, None, payload, first=True)
    assert isinstance(ev, bev.TradingTicker)
    assert (ev.stream, ev.symbol) == ("ticker:tBTCUSD", "tBTCUSD")
    assert (ev.bid, ev.bid_size, ev.ask, ev.ask_size) == (D(118940), D("43.23174788"), D(118950), D("44.36048532"))
    assert (ev.daily_change, ev.daily_change_relative, ev.last_price) == (D(-3710), D("-0.03025608"), D(118910))
    assert (ev.volume, ev.high, ev.low) == (D("372.10417038"), D(122620), D(117190))


def test_funding_ticker_skips_placeholders_and_reads_frr_amount() -> None:
    """The funding ticker's FRR_AMOUNT_AVAILABLE is read at index 15, past two placeholders."""
    sub = subscription("ticker", symbol="fUST")
    payload = loads(
        "[0.00028313972602739723,0.00030136986301369865,120,20745655.56191528,0.000189,2,31161.03854597,"
        "0.00003248,0.1794,0.00021356,44274941.22836571,0.000233,7.1e-7,null,null,21978170.88340614]"
    )
    ev = decode_channel(sub, None, payload, first=True)
    assert isinstance(ev, bev.FundingTicker)
    assert ev.frr == D("0.00028313972602739723") and ev.bid_period == 120 and ev.ask_period == 2
    assert ev.low == D("7.1e-7") and ev.frr_amount_available == D("21978170.88340614")


def test_ticker_missing_trailing_fields_are_none_and_extra_fields_ignored() -> None:
    """Short arrays give None for absent trailing fields; appended fields are tolerated."""
    sub = subscription("ticker", symbol="tBTCUSD")
    short = decode_channel(sub, None, [1, 2, 3], first=False)
    assert isinstance(short, bev.TradingTicker)
    assert short.ask == D(3) and short.ask_size is None and short.low is None
    long = decode_channel(sub, None, [*range(10), "1.5", "x"], first=False)
    assert isinstance(long, bev.TradingTicker) and long.low == D(9)


def test_trades_snapshot_and_sell_sign() -> None:
    """The trades snapshot keeps order; a negative amount is a sell, a positive one a buy."""
    sub = subscription("trades", symbol="tBTCUSD")
    ev = decode_channel(
        sub,
        None,
        loads("[[1795583288,1755234957400,0.001,118910],[1795583271,1755234898428,-0.002,118840]]"),
        first=True,
    )
    assert isinstance(ev, bev.TradesSnapshot) and ev.snapshot
    buy, sell = ev.trades
    assert (buy.id, buy.mts, buy.amount, buy.price, buy.side) == (
        1795583288,
        1755234957400,
        D("0.001"),
        D(118910),
        "buy",
    )
    assert (sell.amount, sell.side) == (D("-0.002"), "sell")


def test_te_and_tu_are_flagged() -> None:
    """``te`` gives kind "executed" and ``tu`` kind "update" for the same trade."""
    sub = subscription("trades", symbol="tBTCUSD")
    row = loads("[1795583314,1755235082230,-0.001,118960]")
    te = decode_channel(sub, "te", row, first=False, seq=7, ts_ms=1755235082231)
    tu = decode_channel(sub, "tu", row, first=False)
    assert isinstance(te, bev.TradeUpdate) and isinstance(tu, bev.TradeUpdate)
    assert (te.kind, te.executed, tu.kind, tu.executed) == ("executed", True, "update", False)
    assert te.trade == tu.trade and te.trade.side == "sell"
    assert (te.seq, te.ts_ms, te.snapshot) == (7, 1755235082231, False)


def test_funding_trades() -> None:
    """Funding trades carry rate and period, in snapshots and fte/ftu updates."""
    sub = subscription("trades", symbol="fUSD")
    snap = decode_channel(sub, None, loads("[[636040,1574696896548,-2000,0.0002,2]]"), first=True)
    assert isinstance(snap, bev.FundingTradesSnapshot)
    assert snap.trades[0] == bev.FundingTrade(id=636040, mts=1574696896548, amount=D(-2000), rate=D("0.0002"), period=2)
    upd = decode_channel(sub, "fte", loads("[636041,1574696896549,150.5,0.00021,30]"), first=False)
    assert isinstance(upd, bev.FundingTradeUpdate) and upd.kind == "executed"
    assert (upd.trade.rate, upd.trade.period) == (D("0.00021"), 30)


def test_book_snapshot_and_updates() -> None:
    """The first book frame is the snapshot; single entries are updates with derived side and deletes."""
    snap = decode_channel(TBTC_BOOK, None, loads("[[118940,11,1.14244423],[118950,2,-0.00114761]]"), first=True)
    assert isinstance(snap, bev.BookSnapshot) and snap.snapshot
    bid, ask = snap.entries
    assert (bid.price, bid.count, bid.amount, bid.side) == (D(118940), 11, D("1.14244423"), "bid")
    assert (ask.side, ask.is_delete) == ("ask", False)
    delete = decode_channel(TBTC_BOOK, None, [119040, 0, -1], first=False)
    assert isinstance(delete, bev.BookUpdate) and not delete.bulk and not delete.snapshot
    (entry,) = delete.entries
    assert (entry.side, entry.is_delete) == ("ask", True)


def test_bulk_book_update_after_snapshot() -> None:
    """With BULK_UPDATES a later array of entries is one update batch, not a new snapshot."""
    ev = decode_channel(TBTC_BOOK, None, [[118940, 0, 1], [118960, 3, "-1.5"]], first=False, seq=9)
    assert isinstance(ev, bev.BookUpdate) and ev.bulk and ev.seq == 9
    assert [(e.price, e.is_delete, e.side) for e in ev.entries] == [(D(118940), True, "bid"), (D(118960), False, "ask")]


def test_empty_book_snapshot() -> None:
    """An empty first frame is an empty snapshot."""
    ev = decode_channel(TBTC_BOOK, None, [], first=True)
    assert isinstance(ev, bev.BookSnapshot) and ev.entries == ()


def test_funding_book_negative_amount_is_bid() -> None:
    """In funding books a negative amount is a bid (the reverse of trading books)."""
    ev = decode_channel(
        FUST_BOOK, None, loads("[[0.00030136986301369865,120,1,-3610042.85618236],[0.00019,2,2,1500]]"), first=True
    )
    assert isinstance(ev, bev.FundingBookSnapshot)
    bid, ask = ev.entries
    assert (bid.rate, bid.period, bid.count, bid.amount, bid.side) == (
        D("0.00030136986301369865"),
        120,
        1,
        D("-3610042.85618236"),
        "bid",
    )
    assert ask.side == "ask"
    upd = decode_channel(FUST_BOOK, None, loads("[0.00028313972602739723,60,0,-1]"), first=False)
    assert isinstance(upd, bev.FundingBookUpdate) and upd.entries[0].is_delete and upd.entries[0].side == "bid"


def test_raw_books() -> None:
    """R0 books carry order / offer ids; price (or rate) 0 deletes."""
    raw = subscription("book", symbol="tBTCUSD", prec="R0")
    snap = decode_channel(raw, None, [[34003345, 9000, "0.5"], [34003346, 9010, "-0.25"]], first=True)
    assert isinstance(snap, bev.RawBookSnapshot)
    assert (snap.entries[0].order_id, snap.entries[0].side, snap.entries[1].side) == (34003345, "bid", "ask")
    gone = decode_channel(raw, None, [34003345, 0, 1], first=False)
    assert isinstance(gone, bev.RawBookUpdate) and gone.entries[0].is_delete
    fraw = subscription("book", symbol="fUSD", prec="R0")
    fsnap = decode_channel(fraw, None, [[658282397, 30, "0.000233", -530]], first=True)
    assert isinstance(fsnap, bev.FundingRawBookSnapshot)
    offer = fsnap.entries[0]
    assert (offer.offer_id, offer.period, offer.rate, offer.amount, offer.side) == (
        658282397,
        30,
        D("0.000233"),
        D(-530),
        "bid",
    )
    fgone = decode_channel(fraw, None, [658282397, 30, 0, 1], first=False)
    assert isinstance(fgone, bev.FundingRawBookUpdate) and fgone.entries[0].is_delete


def test_candles_close_comes_before_high() -> None:
    """Candle arrays are MTS, OPEN, CLOSE, HIGH, LOW, VOLUME: close is index 2, high index 3."""
    sub = subscription("candles", key="trade:1m:tBTCUSD")
    snap = decode_channel(
        sub, None, loads("[[1574698260000,7379.785503,7383.8,7388.3,7379.785503,1.68829482]]"), first=True
    )
    assert isinstance(snap, bev.CandlesSnapshot) and snap.symbol == "tBTCUSD"
    candle = snap.candles[0]
    assert (candle.open, candle.close, candle.high, candle.low) == (
        D("7379.785503"),
        D("7383.8"),
        D("7388.3"),
        D("7379.785503"),
    )
    upd = decode_channel(sub, None, loads("[1574698200000,7399.9,7379.7,7399.9,7371.8,41.63633658]"), first=False)
    assert isinstance(upd, bev.CandleUpdate) and upd.candle.close == D("7379.7") and upd.candle.high == D("7399.9")


def test_derivatives_status_fields_by_index() -> None:
    """Derivatives status reads the documented indexes, skipping placeholders."""
    sub = subscription("status", key="deriv:tBTCF0:USTF0")
    payload = [
        1596124822000,
        None,
        "0.896",
        "0.771995",
        None,
        "1396531.67460709",
        None,
        1596153600000,
        "0.0001056",
        6,
        None,
        "-0.01381344",
        None,
        None,
        "0.7664",
        None,
        None,
        "1439.1",
        None,
        None,
        None,
        "0.001",
        "0.002",
        "future",
    ]
    ev = decode_channel(sub, None, payload, first=True)
    assert isinstance(ev, bev.DerivativesStatus) and ev.symbol == "tBTCF0:USTF0"
    assert (ev.mts, ev.deriv_price, ev.spot_price, ev.insurance_fund_balance) == (
        1596124822000,
        D("0.896"),
        D("0.771995"),
        D("1396531.67460709"),
    )
    assert (ev.next_funding_evt_mts, ev.next_funding_accrued, ev.next_funding_step) == (
        1596153600000,
        D("0.0001056"),
        6,
    )
    assert (ev.current_funding, ev.mark_price, ev.open_interest) == (D("-0.01381344"), D("0.7664"), D("1439.1"))
    assert (ev.clamp_min, ev.clamp_max) == (D("0.001"), D("0.002"))


def test_liquidation_feed() -> None:
    """Liquidation entries start with "pos" and carry position id, symbol, amount and prices."""
    sub = subscription("status", key="liq:global")
    payload = [
        ["pos", 145400868, 1609144352338, None, "tETHF0:USTF0", "-1.67288094", "730.96", None, 1, 1, None, "736.13"]
    ]
    ev = decode_channel(sub, None, payload, first=True)
    assert isinstance(ev, bev.Liquidations) and ev.symbol is None
    (liq,) = ev.entries
    assert (liq.pos_id, liq.mts, liq.symbol, liq.amount) == (145400868, 1609144352338, "tETHF0:USTF0", D("-1.67288094"))
    assert (liq.base_price, liq.is_match, liq.is_market_sold, liq.price_acquired) == (
        D("730.96"),
        True,
        True,
        D("736.13"),
    )


def test_heartbeat_and_checksum_frames() -> None:
    """``hb`` and ``cs`` frames give Heartbeat and Checksum events (signed checksum kept)."""
    hb = decode_channel(TBTC_BOOK, "hb", None, first=False, seq=3)
    assert isinstance(hb, bev.Heartbeat) and (hb.stream, hb.symbol, hb.seq) == ("book:tBTCUSD:P0:F0:25", "tBTCUSD", 3)
    vectors = json.loads((DATA / "checksum_vectors.json").read_text())["vectors"]
    cs_frame = loads(vectors[0]["frames"][-1])
    cs = decode_channel(TBTC_BOOK, cs_frame[1], cs_frame[2], first=False)
    assert isinstance(cs, bev.Checksum) and cs.checksum == 30026640
    assert checksum("book:x", "tX", -5).checksum == -5
    assert heartbeat("account", None, 4) == bev.Heartbeat(stream="account", symbol=None, data=None, seq=4)
    account_hb = decode_account("hb", None, seq=11)
    assert isinstance(account_hb, bev.Heartbeat) and (account_hb.stream, account_hb.seq) == ("account", 11)


def test_unknown_types_become_unknown_events() -> None:
    """Message types the decoder does not know are delivered as UnknownEvent, with the raw payload."""
    ev = decode_channel(TBTC_BOOK, "zz", [1, 2], first=False)
    assert isinstance(ev, UnknownEvent) and ev.data == ["zz", [1, 2]] and ev.stream == TBTC_BOOK.stream
    assert isinstance(decode_channel(TBTC_BOOK, "te", [1, 2, 3, 4], first=False), UnknownEvent)
    acc = decode_account("xyz", {"a": 1})
    assert isinstance(acc, UnknownEvent) and acc.data == ["xyz", {"a": 1}]
    assert isinstance(decode_event({"event": "brand-new"}), UnknownEvent)


@pytest.mark.parametrize(
    ("sub", "msg_type", "payload"),
    [
        (TBTC_BOOK, None, {"not": "a list"}),
        (TBTC_BOOK, None, [118940, None, 1]),
        (TBTC_BOOK, None, ["abc", 1, 1]),
        (subscription("trades", symbol="tBTCUSD"), "te", [1, 2]),
        (subscription("candles", key="trade:1m:tBTCUSD"), None, [1, 2, 3]),
        (TBTC_BOOK, "cs", "not-a-number"),
    ],
)
def test_malformed_payloads_raise(sub: Subscription, msg_type: str | None, payload: Any) -> None:
    """Payloads of the wrong shape raise MalformedFrameError naming the stream and the payload."""
    with pytest.raises(MalformedFrameError) as info:
        decode_channel(sub, msg_type, payload, first=False)
    assert info.value.stream == sub.stream
    assert sub.stream in str(info.value)
    assert isinstance(info.value.frame, str) and info.value.frame[:1] in ("[", "{", '"')


def test_malformed_account_payload_raises() -> None:
    """A channel-0 update whose data is not an array raises MalformedFrameError for the account stream."""
    with pytest.raises(MalformedFrameError) as info:
        decode_account("on", "garbage")
    assert info.value.stream == "account" and "garbage" in str(info.value)


def test_floats_are_converted_through_their_text() -> None:
    """A float payload (decoded without parse_float=str) still gives the shortest exact text."""
    ev = decode_channel(TBTC_BOOK, None, [0.1, 1, 1.14244423], first=False)
    assert isinstance(ev, bev.BookUpdate)
    assert (ev.entries[0].price, ev.entries[0].amount) == (D("0.1"), D("1.14244423"))


# -- account -----------------------------------------------------------------------------------------


def private_frames() -> list[Any]:
    return list(jsonl_frames("bbgo_ws_private.jsonl"))


def test_order_fields() -> None:
    """Orders map id, symbol, amounts, type, status, price and average price from their indexes."""
    oc = next(f for f in private_frames() if isinstance(f, list) and f[1] == "oc")
    ev = decode_account("oc", oc[2])
    assert isinstance(ev, bev.OrderUpdate) and ev.kind == "cancel" and ev.symbol == "tBTCUSD"
    order = ev.order
    assert (order.id, order.gid, order.cid, order.symbol) == (111179140333, None, 1755757983693, "tBTCUSD")
    assert (order.mts_create, order.mts_update) == (1755757983693, 1755757983694)
    assert (order.amount, order.amount_orig, order.type) == (D(0), D("-0.00008865"), "EXCHANGE LIMIT")
    assert (order.flags, order.status) == (0, "EXECUTED @ 113940.0(-0.00008865)")
    assert (order.price, order.price_avg, order.routing, order.meta) == (
        D(112810),
        D(113940),
        "API>BFX",
        {"source": "api"},
    )
    assert (order.notify, order.hidden) == (False, False)


def test_account_trade_te_then_tu_with_fee() -> None:
    """Channel-0 ``te`` has no fee; the matching ``tu`` carries fee and fee currency; maker -1 is taker."""
    frames = [f for f in private_frames() if isinstance(f, list) and f[1] in ("te", "tu")]
    te = decode_account("te", frames[0][2])
    tu = decode_account("tu", frames[1][2])
    assert isinstance(te, bev.AccountTradeUpdate) and isinstance(tu, bev.AccountTradeUpdate)
    assert (te.kind, tu.kind) == ("executed", "update")
    assert (te.trade.fee, te.trade.fee_currency) == (None, None)
    assert (tu.trade.fee, tu.trade.fee_currency) == (D("-0.0060604686"), "USD")
    t = tu.trade
    assert (t.id, t.symbol, t.order_id, t.exec_amount, t.exec_price, t.maker, t.cid) == (
        111144952,
        "tBTCUSD",
        111179140333,
        D("-0.00008865"),
        D(113940),
        False,
        1755757983693,
    )
    last_tu = decode_account("tu", frames[-1][2])
    assert isinstance(last_tu, bev.AccountTradeUpdate) and last_tu.trade.fee == D("-5.2128e-8")


def test_wallets_and_balance() -> None:
    """Wallet snapshot rows keep None available balance; ``bu`` gives AUM and net AUM."""
    ws = next(f for f in private_frames() if isinstance(f, list) and f[1] == "ws")
    snap = decode_account("ws", ws[2])
    assert isinstance(snap, bev.WalletsSnapshot) and len(snap.wallets) == 4
    usd = snap.wallets[3]
    assert (usd.wallet_type, usd.currency, usd.balance, usd.unsettled_interest) == (
        "exchange",
        "USD",
        D("20.96524952078"),
        D(0),
    )
    assert usd.available_balance is None and usd.trade_details["reason"] == "TRADE"
    bu = decode_account("bu", loads("[1004.2830434079441,1004.2830434079441]"))
    assert isinstance(bu, bev.BalanceUpdate) and bu.aum == D("1004.2830434079441") == bu.aum_net


def test_funding_offer_snapshot_fields() -> None:
    """Funding offers map rate and period from indexes 14 and 15."""
    fos = next(f for f in private_frames() if isinstance(f, list) and f[1] == "fos")
    ev = decode_account("fos", fos[2])
    assert isinstance(ev, bev.FundingOffersSnapshot)
    offer = ev.offers[0]
    assert (offer.id, offer.symbol, offer.amount, offer.type, offer.status) == (
        4284963623,
        "fUST",
        D("150.00146403"),
        "LIMIT",
        "ACTIVE",
    )
    assert (offer.rate, offer.period, offer.renew) == (D(0), 2, False)


def test_positions_credits_loans_updates() -> None:
    """Position, credit and loan updates decode with their kinds and fields."""
    pos = decode_account(
        "pu",
        [
            "tBTCUSD",
            "ACTIVE",
            "-0.5",
            "9000",
            "0.1",
            0,
            "-1.5",
            "-0.03",
            "9500",
            "2.1",
            None,
            142639101,
            1574696896000,
            1574696897000,
            None,
            0,
            None,
            "100",
            "50",
            {"x": 1},
        ],
    )
    assert isinstance(pos, bev.PositionUpdate) and pos.kind == "update" and pos.symbol == "tBTCUSD"
    p = pos.position
    assert (p.amount, p.base_price, p.pl, p.price_liq, p.leverage, p.position_id) == (
        D("-0.5"),
        D(9000),
        D("-1.5"),
        D(9500),
        D("2.1"),
        142639101,
    )
    assert (p.collateral, p.collateral_min, p.meta) == (D(100), D(50), {"x": 1})
    credit_row = [
        26222883,
        "fUSD",
        -1,
        1574696896000,
        1574696897000,
        "50",
        0,
        "ACTIVE",
        "FIXED",
        None,
        None,
        "0.0002",
        2,
        1574696896000,
        1574696897000,
        0,
        0,
        None,
        1,
        None,
        0,
        "tBTCUSD",
    ]
    credit = decode_account("fcc", credit_row)
    assert isinstance(credit, bev.FundingCreditUpdate) and credit.kind == "close"
    assert (credit.credit.side, credit.credit.rate, credit.credit.period, credit.credit.position_pair) == (
        -1,
        D("0.0002"),
        2,
        "tBTCUSD",
    )
    assert credit.credit.renew is True
    loan = decode_account("fln", credit_row[:21])
    assert isinstance(loan, bev.FundingLoanUpdate) and loan.kind == "new" and loan.loan.no_close is False


def test_notification_with_order() -> None:
    """``n`` notifications expose type, status and text, and decode the order of an on-req."""
    order = [
        1185815098,
        None,
        1574696896000,
        "tETHUSD",
        1574696896000,
        1574696896000,
        "0.1",
        "0.1",
        "LIMIT",
        None,
        None,
        None,
        0,
        "ACTIVE",
        None,
        None,
        "180",
        "0",
        0,
        0,
        None,
        None,
        None,
        0,
        0,
        None,
        None,
        None,
        "API>BFX",
        None,
        None,
        None,
    ]
    ev = decode_account("n", [1574696896000, "on-req", None, None, order, None, "SUCCESS", "Submitting limit buy"])
    assert isinstance(ev, bev.Notification) and ev.ok and ev.type == "on-req"
    assert ev.order is not None and ev.order.id == 1185815098 and ev.symbol == "tETHUSD"
    err = decode_account("n", [1574696896000, "on-req", None, None, [], None, "ERROR", "Invalid order: not enough"])
    assert (
        isinstance(err, bev.Notification)
        and not err.ok
        and err.order is None
        and (err.text or "").startswith("Invalid")
    )


def test_margin_and_funding_info() -> None:
    """``miu`` base and sym updates and ``fiu`` decode to their own events."""
    base = decode_account("miu", ["base", ["-13.01464", 0, "49331.70267297", "49318.68803297", 27]])
    assert isinstance(base, bev.MarginBaseUpdate) and base.margin_min == D(27) and base.user_pl == D("-13.01464")
    sym = decode_account("miu", ["sym", "tETHUSD", ["149361.09", "149639.26", "830.01", "895.06", None, None]])
    assert isinstance(sym, bev.MarginSymbolUpdate) and sym.symbol == "tETHUSD" and sym.sell == D("895.06")
    fiu = decode_account("fiu", ["sym", "fUSD", ["0.0001", "0.0002", 2, 30]])
    assert isinstance(fiu, bev.FundingInfoUpdate) and fiu.symbol == "fUSD" and fiu.duration_lend == D(30)


def test_account_funding_trade() -> None:
    """Channel-0 ``fte`` rows carry the offer id, rate, period and maker flag."""
    ev = decode_account("fte", [636854, "fUSD", 1575282446000, 41238905, "-1000", "0.002", 7, 1], seq=5, auth_seq=2)
    assert isinstance(ev, bev.AccountFundingTradeUpdate) and ev.executed
    assert (ev.trade.offer_id, ev.trade.rate, ev.trade.period, ev.trade.maker) == (41238905, D("0.002"), 7, True)
    assert (ev.seq, ev.auth_seq, ev.symbol) == (5, 2, "fUSD")


# -- dict events and errors ---------------------------------------------------------------------------


def test_info_conf_pong_and_unsubscribed() -> None:
    """Connection-level dict events decode with their fields."""
    info = decode_event({"event": "info", "version": 2, "serverId": "abc", "platform": {"status": 1}})
    assert isinstance(info, bev.Info) and (info.version, info.server_id, info.platform_status) == (2, "abc", 1)
    notice = decode_event({"event": "info", "code": 20051, "msg": "Stopping. Please try to reconnect"})
    assert isinstance(notice, bev.Info) and notice.code == 20051 and notice.version is None
    conf = decode_event({"event": "conf", "status": "OK", "flags": 65536})
    assert isinstance(conf, bev.Conf) and conf.ok and conf.flags == 65536
    pong = decode_event({"event": "pong", "ts": 1511545528111, "cid": 1234})
    assert isinstance(pong, bev.Pong) and (pong.cid, pong.ts_ms) == (1234, 1511545528111)
    unsub = decode_event({"event": "unsubscribed", "status": "OK", "chanId": 10092})
    assert isinstance(unsub, bev.Unsubscribed) and unsub.ok and unsub.chan_id == 10092


def test_subscribed_names_the_canonical_stream() -> None:
    """A ``subscribed`` reply gives the chanId and the stream it echoes, which the request matches."""
    msg = {
        "event": "subscribed",
        "channel": "book",
        "chanId": 10092,
        "symbol": "tBTCUSD",
        "prec": "P0",
        "freq": "F0",
        "len": "25",
        "subId": "book:tBTCUSD:P0:F0:25",
        "pair": "BTCUSD",
    }
    ev = decode_event(msg)
    assert isinstance(ev, bev.Subscribed)
    assert (ev.stream, ev.chan_id, ev.length, ev.sub_id, ev.pair) == (
        TBTC_BOOK.stream,
        10092,
        25,
        TBTC_BOOK.stream,
        "BTCUSD",
    )
    candles = decode_event({"event": "subscribed", "channel": "candles", "chanId": 343351, "key": "trade:1m:tBTCUSD"})
    assert isinstance(candles, bev.Subscribed) and candles.stream == "candles:trade:1m:tBTCUSD"
    assert candles.symbol == "tBTCUSD"


def test_auth_replies() -> None:
    """``auth`` replies decode to AuthResult with user id and caps, or code and message."""
    ok = next(f for f in private_frames() if isinstance(f, dict) and f.get("event") == "auth")
    ev = decode_event(ok)
    assert isinstance(ev, bev.AuthResult) and ev.ok and ev.user_id == 4162438 and ev.caps["orders"]["write"] == 1
    failed = decode_event({"event": "auth", "status": "FAILED", "chanId": 0, "code": 10114, "msg": "nonce: small"})
    assert isinstance(failed, bev.AuthResult) and not failed.ok and (failed.code, failed.msg) == (10114, "nonce: small")


def test_subscribed_without_chan_id_is_malformed() -> None:
    """A ``subscribed`` reply without chanId raises MalformedFrameError."""
    with pytest.raises(MalformedFrameError):
        decode_event({"event": "subscribed", "channel": "ticker", "symbol": "tBTCUSD"})


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (10100, AuthenticationError),
        (10111, AuthenticationError),
        (10112, AuthenticationError),
        (10113, AuthenticationError),
        (10114, AuthenticationError),
        (10305, RateLimitError),
        (10300, SubscriptionError),
        (10301, SubscriptionError),
        (10302, SubscriptionError),
        (10400, SubscriptionError),
        (10401, SubscriptionError),
        (10001, ExchangeError),
        (None, ExchangeError),
    ],
)
def test_error_codes_map_to_classes(code: int | None, cls: type[ExchangeError]) -> None:
    """Each Bitfinex error code maps to the documented exception class, keeping the code."""
    msg = {"event": "error", "msg": "something", "code": code}
    err = error_from_event(msg, None)
    assert type(err) is cls and err.code == code and err.payload == msg


def test_error_names_stream_request_and_what_is_valid() -> None:
    """Errors carry the stream and the request, and say what would be valid."""
    sub = TBTC_BOOK
    request = sub.request(sub.stream)
    dup = error_from_event({"event": "error", "msg": "subscribe: dup", "code": 10301, **request}, request)
    assert isinstance(dup, SubscriptionError) and dup.stream == sub.stream and dup.request == request
    assert "already subscribed to book:tBTCUSD:P0:F0:25" in dup.message
    limit = error_from_event({"event": "error", "msg": "subscribe: limit", "code": 10305}, request)
    assert isinstance(limit, RateLimitError) and "25" in limit.message and "another connection" in limit.message
    bad_len = error_from_event(
        {"event": "error", "msg": "len: invalid", "code": 10300, "channel": "book", "symbol": "tBTCUSD", "len": "26"},
        None,
    )
    assert "1, 25, 100, 250" in bad_len.message
    unknown = next(f for f in private_frames() if isinstance(f, dict) and f.get("event") == "error")
    err = error_from_event(unknown, None)
    assert isinstance(err, SubscriptionError) and err.code == 10300 and err.stream == "wallet"
    assert "ticker, trades, book, candles, status" in err.message


def test_auth_error_drops_the_signature() -> None:
    """An auth error keeps the request without authSig and explains a small nonce."""
    request = {"event": "auth", "apiKey": "k" * 43, "authSig": "deadbeef" * 12, "authPayload": "AUTH1", "authNonce": 1}
    err = error_from_event({"event": "auth", "status": "FAILED", "code": 10114, "msg": "nonce: small"}, request)
    assert isinstance(err, AuthenticationError) and err.stream == "account"
    assert err.request is not None and "authSig" not in err.request and "nonce" in err.message
    assert "deadbeef" not in str(err) and "deadbeef" not in repr(err)


# -- event classes: field order, positional construction, bases ----------------------------------------


def _dataclasses_of(module: Any) -> list[type]:
    return [obj for name in module.__all__ if dataclasses.is_dataclass(obj := getattr(module, name))]


_SNAPSHOTS_AND_UPDATES = (bev.ChannelSnapshot, bev.ChannelUpdate, bev.AccountSnapshot, bev.AccountUpdate)
_BASES = (bev.ChannelEvent, bev.AccountEvent, *_SNAPSHOTS_AND_UPDATES)


@pytest.mark.parametrize("cls", _dataclasses_of(bev), ids=lambda cls: cls.__name__)
def test_positional_factory_puts_every_value_in_its_field(cls: type) -> None:
    """positional_factory(cls) with one distinct value per field, in field order, builds what the
    keyword constructor builds from the same values, each value in its own field."""
    fields = dataclasses.fields(cls)
    values = {f.name: object() for f in fields if f.init}
    by_keyword = cls(**values)
    positional = positional_factory(cls)(*values.values())
    for f in fields:
        expected = values[f.name] if f.init else f.default
        assert getattr(by_keyword, f.name) is expected, f.name
        assert getattr(positional, f.name) is expected, f.name
    assert positional == by_keyword and repr(positional) == repr(by_keyword)


def _expected_trailing(cls: type) -> list[str]:
    snapshot = ["snapshot"] if issubclass(cls, _SNAPSHOTS_AND_UPDATES) else []
    auth_seq = ["auth_seq"] if issubclass(cls, bev.AccountEvent) else []
    return [*snapshot, "seq", *auth_seq, "ts_ms"]


def test_channel_events_carry_their_own_fields_first_then_snapshot_seq_and_ts_ms() -> None:
    """Every ChannelEvent subclass lists its own fields, then snapshot (snapshots and updates),
    seq, auth_seq (account events) and ts_ms, with the defaults of their base."""
    concrete = [c for c in _dataclasses_of(bev) if issubclass(c, bev.ChannelEvent) and c not in _BASES]
    assert len(concrete) == 39
    for cls in concrete:
        names = [f.name for f in dataclasses.fields(cls)]
        trailing = _expected_trailing(cls)
        assert names[: len(names) - len(trailing)][:3] == ["stream", "symbol", "data"], cls
        assert names[len(names) - len(trailing) :] == trailing, cls
        defaults = {f.name: f.default for f in dataclasses.fields(cls)}
        assert defaults["seq"] is None and defaults["ts_ms"] is None, cls
        if "snapshot" in trailing:
            snapshot = issubclass(cls, bev.ChannelSnapshot | bev.AccountSnapshot)
            assert defaults["snapshot"] is snapshot, cls
            assert not next(f for f in dataclasses.fields(cls) if f.name == "snapshot").init
    # The order some callers build positionally: (stream, symbol, data, entries, bulk, seq, ts_ms).
    assert list(inspect.signature(positional_factory(bev.BookUpdate)).parameters) == [
        *("stream", "symbol", "data", "entries", "bulk", "seq", "ts_ms")
    ]


def test_event_bases_group_the_events() -> None:
    """Public data events are ChannelEvents, channel-0 ones AccountEvents; replies are neither;
    credits and loans share FundingContract without being one another."""
    beat = bev.Heartbeat(stream="trades:tBTCUSD", symbol="tBTCUSD", data=None, seq=3)
    assert isinstance(beat, bev.ChannelEvent) and not isinstance(beat, bev.AccountEvent) and beat.seq == 3
    assert issubclass(bev.BookSnapshot, bev.ChannelSnapshot) and issubclass(bev.BookUpdate, bev.ChannelUpdate)
    assert issubclass(bev.OrdersSnapshot, bev.AccountSnapshot) and issubclass(bev.OrderUpdate, bev.AccountUpdate)
    assert issubclass(bev.Notification, bev.AccountEvent) and issubclass(bev.AccountEvent, bev.ChannelEvent)
    for cls in (bev.Info, bev.Conf, bev.Subscribed, bev.Unsubscribed, bev.Pong, bev.AuthResult, bev.ErrorReply):
        assert issubclass(cls, Event) and not issubclass(cls, bev.ChannelEvent), cls
    assert issubclass(bev.FundingCredit, bev.FundingContract) and issubclass(bev.FundingLoan, bev.FundingContract)
    assert not issubclass(bev.FundingCredit, bev.FundingLoan) and not issubclass(bev.FundingLoan, bev.FundingCredit)


def test_a_new_account_update_class_gets_the_trailing_fields() -> None:
    """A dataclass deriving from AccountUpdate gets snapshot, seq, auth_seq and ts_ms after its own field."""

    @dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
    class Thing(bev.AccountUpdate):
        thing: int

    assert [f.name for f in dataclasses.fields(Thing)] == [
        *("stream", "symbol", "data", "thing", "snapshot", "seq", "auth_seq", "ts_ms")
    ]
    made = positional_factory(Thing)("account", None, [1], 1, 2, 3, 4)
    assert made == Thing(stream="account", symbol=None, data=[1], thing=1, seq=2, auth_seq=3, ts_ms=4)
    assert made.snapshot is False and "__dict__" not in dir(made)


# Every name bpbfx.bitfinex.events listed in __all__ before it became a package.
EVENT_NAMES = (
    "ACCOUNT_STREAM CONNECTION_STREAM AccountFundingTrade AccountFundingTradeUpdate AccountTrade "
    "AccountTradeUpdate AuthResult BalanceUpdate BookEntry BookSnapshot BookUpdate Candle CandleUpdate "
    "CandlesSnapshot Checksum Conf DerivativesStatus ErrorReply FundingBookEntry FundingBookSnapshot "
    "FundingBookUpdate FundingCredit FundingCreditUpdate FundingCreditsSnapshot FundingInfoUpdate "
    "FundingLoan FundingLoanUpdate FundingLoansSnapshot FundingOffer FundingOfferUpdate "
    "FundingOffersSnapshot FundingRawBookEntry FundingRawBookSnapshot FundingRawBookUpdate FundingTicker "
    "FundingTrade FundingTradeUpdate FundingTradesSnapshot Heartbeat Info Liquidation Liquidations "
    "MarginBaseUpdate MarginSymbolUpdate Notification Order OrderUpdate OrdersSnapshot Pong Position "
    "PositionUpdate PositionsSnapshot RawBookEntry RawBookSnapshot RawBookUpdate Subscribed TradeEntry "
    "TradeUpdate TradesSnapshot TradingTicker Unsubscribed Wallet WalletUpdate WalletsSnapshot"
).split()


def test_names_stay_importable_from_events_and_decode() -> None:
    """Every name bpbfx.bitfinex.events and bpbfx.bitfinex.decode offered stays importable."""
    used_elsewhere = ["new_book_entry", "TradeKind", "_slot_setter"]  # tests, decoders, the book
    assert [name for name in [*EVENT_NAMES, *used_elsewhere] if not hasattr(bev, name)] == []
    assert set(EVENT_NAMES) <= set(bev.__all__)
    with pytest.warns(DeprecationWarning, match="events.Trade is now bpbfx.bitfinex.events.TradeEntry"):
        assert bev.Trade is bev.TradeEntry  # an earlier name (a row, not an event; Trade is an event elsewhere)
    with pytest.warns(DeprecationWarning, match="events.Side is now bpbfx.bitfinex.events.EntrySide"):
        assert bev.Side is bev.EntrySide
    for name in ("checksum", "decode_account", "decode_channel", "decode_event", "error_from_event", "heartbeat"):
        assert name in bf_decode.__all__ and callable(getattr(bf_decode, name))
    assert bf_decode._book_entry is bf_decode.book_entry and bf_decode.book_entry(["1", 1, "2"]).amount == D(2)
