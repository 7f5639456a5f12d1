"""Bitfinex order entry core (bpbfx.bitfinex.orders): input builders, reply matching,
exactly-once reconciliation, rate limits.  Pure tests: no sockets, time injected.

Frames come from the official documentation and from clients that recorded the exchange:

- DOCS_*: docs.bitfinex.com/reference/ws-auth-input-order-new, ws-auth-input-order-cancel,
  ws-auth-input-order-update, ws-auth-input-offer-new, ws-auth-input-calc.
- FIXGW_*: bitfinexcom/bfxfixgw integration tests (TestNewOrderSingleBuyLimitFill,
  TestNewOrderSingleRejectBadPrice, the cancel-by-cid test), the official FIX gateway's
  Bitfinex mock.
- CAPTURE_*: a live capture quoted in ylh0919/memory liandao/wingchun/td/TDEngineBitfinex.cpp
  ("an example of insert order and order action, all successful").
- JAVA_*: jnidzwetzki/bitfinex-v2-wss-api-java, src/main/java/com/github/jnidzwetzki/bitfinex/v2/
  callback/channel/account/info/NotificationHandler.java (order error callback).
"""

from __future__ import annotations

import json
from concurrent.futures import FIRST_COMPLETED, as_completed, wait
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from bpbfx import (
    InvalidOrderError,
    OrderNotSentError,
    OrderRateLimitError,
    OrderRejectedError,
    OrderStatusUnknownError,
    RateLimitError,
)
from bpbfx.bitfinex import orders as o
from bpbfx.bitfinex.decode import decode_account
from bpbfx.bitfinex.events import Order, OrderUpdate
from bpbfx.bitfinex.orders.ledger import Ledger
from bpbfx.bitfinex.orders.reconcile import give_up, reconcile_orders
from bpbfx.bitfinex.orders.views import AccountView

D = Decimal

# 2026-12-01 12:00:00 UTC
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc).timestamp()

FIXGW_ON_REQ_OK = (
    '[0,"n",[null,"on-req",null,null,[1234567,null,555,"tBTCUSD",null,null,1,1,"EXCHANGE LIMIT",null,null,null,'
    'null,null,null,null,12000,null,null,null,null,null,null,0,null,null],null,"SUCCESS",'
    '"Submitting limit buy order for 1.0 BTC."]]'
)
FIXGW_ON = (
    '[0,"on",[1234567,0,555,"tBTCUSD",1521153050972,1521153051035,1,1,"EXCHANGE LIMIT",null,null,null,0,"ACTIVE",'
    'null,null,12000,0,null,null,null,null,null,0,0,0,null,null,"API>BFX",null,null,null]]'
)
FIXGW_ON_REQ_BAD_PRICE = (
    '[0,"n",[1521237838790,"on-req",null,null,[null,null,555,"tBTCUSD",null,null,-1,null,"EXCHANGE LIMIT",null,'
    "null,null,null,null,null,null,-12483,null,null,null,null,null,null,0,null,null,null,null,null,null,null,null],"
    'null,"ERROR","Invalid price."]]'
)
FIXGW_OC_REQ_BY_CID = (
    '[0,"n",[1521153051035,"oc-req",null,null,[null,null,555,null,null,null,null,null,null,null,null,null,null,'
    'null,null,null,null,null,null,null,null,null,null,0,null,null,null,null,null,null,null,null],null,"SUCCESS",'
    '"Submitted for cancellation; waiting for confirmation (ID: 1234567)."]]'
)
JAVA_ON_REQ_MIN_SIZE = (
    '[0,"n",[null,"on-req",null,null,[null,null,1513970684865000,"tBTCUSD",null,null,0.001,0.001,"EXCHANGE MARKET",'
    'null,null,null,null,null,null,null,12940,null,null,null,null,null,null,0,null,null],null,"ERROR",'
    '"Invalid order: minimum size for BTC/USD is 0.002"]]'
)
CAPTURE_ON_REQ = (
    '[0,"n",[1536659719199,"on-req",null,null,[16662905539,null,4,"tLTCBTC",null,null,0.2001,0.2001,'
    '"EXCHANGE LIMIT",null,null,null,null,null,null,null,0.0085489,null,null,null,null,null,null,0,null,null,null,'
    'null,null,null,null,null],null,"SUCCESS","Submitting exchange limit buy order for 0.2001 LTC."]]'
)
CAPTURE_ON = (
    '[0,"on",[16662905539,0,4,"tLTCBTC",1536659719189,1536659719212,0.2001,0.2001,"EXCHANGE LIMIT",null,null,null,'
    '0,"ACTIVE",null,null,0.0085489,0,null,null,null,null,null,0,0,0,null,null,"API>BFX",null,null,null]]'
)
CAPTURE_OC_REQ = (
    '[0,"n",[1536659721156,"oc-req",null,null,[16662905539,null,null,null,null,null,null,null,null,null,null,null,'
    "null,null,null,null,null,null,null,null,null,null,null,0,null,null,null,null,null,null,null,null],null,"
    '"SUCCESS","Submitted for cancellation; waiting for confirmation (ID: 16662905539)."]]'
)
CAPTURE_OC = (
    '[0,"oc",[16662905539,0,4,"tLTCBTC",1536659719189,1536659721181,0.2001,0.2001,"EXCHANGE LIMIT",null,null,null,'
    '0,"CANCELED",null,null,0.0085489,0,null,null,null,null,null,0,0,0,null,null,"API>BFX",null,null,null]]'
)
DOCS_OC_REQ = (
    '[0,"n",[1575291219660,"oc-req",null,null,[1185815100,null,1575289350475,"tETHUSD",1575289351944,1575289447644,'
    '-3,-3,"LIMIT","LIMIT",null,null,0,"ACTIVE",null,null,240,0,0,0,null,null,null,0,0,null,null,null,"API>BFX",'
    'null,null,null],null,"SUCCESS","Submitted for cancellation; waiting for confirmation (ID: 1185815100)."]]'
)
DOCS_FON_REQ = (
    '[0,"n",[1575293958819,"fon-req",null,null,[41238934,null,null,null,500,null,null,null,null,null,null,null,'
    'null,null,0.02,2,null,null,null,null,null],null,"SUCCESS","Submitting funding bid of 500.0 USD at 2.0000 for 2'
    ' days."]]'
)


def order_row(
    oid: int,
    cid: int | None,
    *,
    symbol: str = "tBTCUSD",
    amount: str = "0.5",
    price: str = "1000",
    mts: int | None = None,
    status: str = "ACTIVE",
    gid: int | None = None,
) -> list[Any]:
    """An order row in the ws-auth-orders layout."""
    mts = mts if mts is not None else int(T0 * 1000)
    row: list[Any] = [oid, gid, cid, symbol, mts, mts, amount, amount, "EXCHANGE LIMIT", None, None, None, 0, status]
    row += [None, None, price, "0", "0", "0", None, None, None, 0, 0, None, None, None, "API>BFX", None, None, None]
    return row


class Clock:
    """Injected wall and monotonic time."""

    def __init__(self) -> None:
        self.wall = T0
        self.mono = 1000.0

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


def make_core(clock: Clock, **kw: Any) -> o.OrderCore:
    core = o.OrderCore(wall=lambda: clock.wall, monotonic=lambda: clock.mono, **kw)
    core.authenticated_now()
    return core


def feed(core: o.OrderCore, frame: str | list[Any]) -> None:
    """Decode one channel-0 frame as the protocol does (numbers keep their text) and feed it."""
    msg = json.loads(frame, parse_float=str) if isinstance(frame, str) else frame
    core.feed(decode_account(msg[1], msg[2]))


def settle(core: o.OrderCore) -> None:
    o.complete(core.take_completions())


def sent_frames(core: o.OrderCore) -> list[Any]:
    frames = core.take_frames()
    for _text, reqs in frames:
        core.sent(reqs, True)
    settle(core)
    return [json.loads(text) for text, _ in frames]


@pytest.fixture
def clock() -> Clock:
    return Clock()


# --------------------------------------------------------------------------------------------
# Input builders
# --------------------------------------------------------------------------------------------


def test_new_order_matches_the_documented_frame() -> None:
    """The docs' `on` example serialises to the same fields, numbers as exact strings."""
    inp = o.new_order("tBTCUSD", "1.0", "500", type="LIMIT", cid=12345, gid=1)
    frame = json.loads(inp.frame())
    assert frame[:3] == [0, "on", None]
    assert frame[3] == {
        "gid": 1,
        "cid": 12345,
        "type": "LIMIT",
        "symbol": "tBTCUSD",
        "amount": "1",
        "price": "500",
        "flags": 0,
    }


def test_numbers_serialise_exactly() -> None:
    """Decimal, str and int become exact plain decimal text without exponent or trailing zeros."""
    assert o.new_order("tBTCUSD", D("-0.00000001"), D("3E+4")).payload["price"] == "30000"
    assert o.new_order("tBTCUSD", D("-0.00000001"), 1).payload["amount"] == "-0.00000001"
    assert o.new_order("tBTCUSD", "2.50000", "0.012345").payload["amount"] == "2.5"


def test_float_accepted_only_when_exact() -> None:
    """A float is taken when its binary value is a short decimal (0.5), refused otherwise (0.1)."""
    assert o.new_order("tBTCUSD", 0.5, 1000.0).payload["amount"] == "0.5"
    with pytest.raises(InvalidOrderError, match=r"pass the string '0\.1'") as err:
        o.new_order("tBTCUSD", 0.1, "1000")
    assert err.value.field == "amount"
    with pytest.raises(InvalidOrderError, match="finite"):
        o.new_order("tBTCUSD", float("nan"), "1000")
    with pytest.raises(InvalidOrderError, match="bool"):
        o.new_order("tBTCUSD", True, "1000")  # type: ignore[arg-type]


def test_unknown_type_lists_the_valid_ones() -> None:
    """An unknown order type is refused with every documented type named."""
    with pytest.raises(InvalidOrderError) as err:
        o.new_order("tBTCUSD", "1", "100", type="POST ONLY")
    for name in o.ORDER_TYPES:
        assert name in str(err.value)


def test_zero_amount_refused() -> None:
    """A zero amount says positive buys, negative sells."""
    with pytest.raises(InvalidOrderError, match="positive buys, negative sells"):
        o.new_order("tBTCUSD", "0.000", "100")


def test_price_rules_by_type() -> None:
    """Limit types need a price, market types refuse one, trailing and stop-limit need their own fields."""
    with pytest.raises(InvalidOrderError, match="needs a price"):
        o.new_order("tBTCUSD", "1", type="EXCHANGE LIMIT")
    with pytest.raises(InvalidOrderError, match="market orders take no price"):
        o.new_order("tBTCUSD", "1", "100", type="EXCHANGE MARKET")
    assert "price" not in o.new_order("tBTCUSD", "1", type="MARKET").payload
    with pytest.raises(InvalidOrderError, match="price_trailing"):
        o.new_order("tBTCUSD", "1", type="TRAILING STOP")
    assert o.new_order("tBTCUSD", "1", type="TRAILING STOP", price_trailing="45").payload["price_trailing"] == "45"
    with pytest.raises(InvalidOrderError, match="price_aux_limit"):
        o.new_order("tBTCUSD", "1", "100", type="STOP LIMIT")
    with pytest.raises(InvalidOrderError, match="STOP LIMIT orders only"):
        o.new_order("tBTCUSD", "1", "100", type="LIMIT", price_aux_limit="101")


def test_flags_checked_against_documented_bits() -> None:
    """Unknown bits, OCO without its stop price, and POSTONLY on a taking order are refused."""
    with pytest.raises(InvalidOrderError, match="HIDDEN 64, CLOSE 512, REDUCE_ONLY 1024, POSTONLY 4096"):
        o.new_order("tBTCUSD", "1", "100", flags=8)
    with pytest.raises(InvalidOrderError, match="OCO flag"):
        o.new_order("tBTCUSD", "1", "100", flags=o.OCO)
    with pytest.raises(InvalidOrderError, match="OCO flag"):
        o.new_order("tBTCUSD", "1", "100", price_oco_stop="90")
    assert o.new_order("tBTCUSD", "1", "100", flags=o.OCO, price_oco_stop="90").payload["price_oco_stop"] == "90"
    with pytest.raises(InvalidOrderError, match="POSTONLY"):
        o.new_order("tBTCUSD", "1", type="EXCHANGE MARKET", flags=o.POSTONLY)
    assert o.new_order("tBTCUSD", "1", "100", flags=o.HIDDEN | o.POSTONLY).payload["flags"] == 4160


def test_precision_limits() -> None:
    """Prices carry at most 5 significant digits and 8 decimals; amounts at most 8 decimals."""
    assert o.new_order("tBTCUSD", "1", "100010").payload["price"] == "100010"
    assert o.new_order("tBTCUSD", "1", "0.00012340").payload["price"] == "0.0001234"
    with pytest.raises(InvalidOrderError, match=r"6 significant digits.*at most 5") as err:
        o.new_order("tBTCUSD", "1", "30123.5")
    assert err.value.field == "price"
    with pytest.raises(InvalidOrderError, match="at most 8"):
        o.new_order("tBTCUSD", "0.000000001", "100")
    with pytest.raises(InvalidOrderError, match="greater than zero"):
        o.new_order("tBTCUSD", "-1", "-12483")


def test_cid_gid_and_symbol_ranges() -> None:
    """cid is 1..2**45-1, gid an int32, symbols must be trading symbols."""
    assert o.new_order("tBTCUSD", "1", "1", cid=2**45 - 1).cid == 2**45 - 1
    for bad in (0, 2**45, True):
        with pytest.raises(InvalidOrderError, match="2\\*\\*45"):
            o.new_order("tBTCUSD", "1", "1", cid=bad)
    with pytest.raises(InvalidOrderError, match="int32"):
        o.new_order("tBTCUSD", "1", "1", gid=2**31)
    for symbol in ("BTCUSD", "fUSD", "tbtcusd"):
        with pytest.raises(InvalidOrderError, match="trading symbol"):
            o.new_order(symbol, "1", "1")
    assert o.new_order("tBTCF0:USTF0", "1", "1", type="LIMIT", lev=10).payload["lev"] == 10


def test_tif_and_leverage() -> None:
    """tif takes aware datetimes (sent as UTC text) or the documented text forms; lev needs a derivative pair."""
    later = datetime(2027, 1, 1, 10, 45, 23, tzinfo=timezone(timedelta(hours=2)))
    assert o.new_order("tBTCUSD", "1", "1", tif=later).payload["tif"] == "2027-01-01 08:45:23"
    assert o.new_order("tBTCUSD", "1", "1", tif="2027-06-30").payload["tif"] == "2027-06-30"
    with pytest.raises(InvalidOrderError, match="timezone-aware"):
        o.new_order("tBTCUSD", "1", "1", tif=datetime(2027, 1, 1))
    with pytest.raises(InvalidOrderError, match="YYYY-MM-DD HH:MM:SS"):
        o.new_order("tBTCUSD", "1", "1", tif="2027-01-01T10:00:00Z")
    with pytest.raises(InvalidOrderError, match="derivative"):
        o.new_order("tBTCUSD", "1", "1", lev=5)
    with pytest.raises(InvalidOrderError, match="from 1 to 100"):
        o.new_order("tBTCF0:USTF0", "1", "1", lev=101)


def test_update_order_inputs() -> None:
    """ou carries the id and the changes (docs examples); it needs one change, not amount and delta."""
    assert o.update_order(1149698545, amount="0.1", price="500").payload == {
        "id": 1149698545,
        "amount": "0.1",
        "price": "500",
    }
    assert o.update_order(1149698545, gid=123).payload == {"id": 1149698545, "gid": 123}
    with pytest.raises(InvalidOrderError, match="at least one change"):
        o.update_order(1149698545)
    with pytest.raises(InvalidOrderError, match="not both"):
        o.update_order(1149698545, amount="1", delta="0.1")


def test_cancel_inputs() -> None:
    """oc by id or by cid+cid_date; oc_multi by ids, cid pairs, gids or all (docs shapes)."""
    assert json.loads(o.cancel_order(5).frame()) == [0, "oc", None, {"id": 5}]
    assert o.cancel_order(cid=555, cid_date="2026-12-01").payload == {"cid": 555, "cid_date": "2026-12-01"}
    with pytest.raises(InvalidOrderError, match="either id or cid"):
        o.cancel_order(5, cid=6)
    with pytest.raises(InvalidOrderError, match="YYYY-MM-DD"):
        o.cancel_order(cid=555, cid_date="01/12/2026")
    assert o.cancel_orders(ids=[1, 2]).payload == {"id": [1, 2]}
    assert o.cancel_orders(cids=[(555, "2026-12-01")]).payload == {"cid": [[555, "2026-12-01"]]}
    assert o.cancel_orders(gids=[7]).payload == {"gid": [7]}
    assert o.cancel_orders(all=True).payload == {"all": 1}
    with pytest.raises(InvalidOrderError, match="do not combine"):
        o.cancel_orders(ids=[1], all=True)
    with pytest.raises(InvalidOrderError, match="needs ids"):
        o.cancel_orders()


def test_calc_and_funding_inputs() -> None:
    """calc matches the docs' example; funding offers follow the documented fields and ranges."""
    items = [
        "margin_base",
        "margin_sym_tBTCUSD",
        "funding_sym_fUSD",
        "position_tBTCUSD",
        "wallet_margin_BTC",
        "balance",
    ]
    assert json.loads(o.calc(items).frame()) == [0, "calc", None, [[i] for i in items]]
    with pytest.raises(InvalidOrderError, match="unknown calc item"):
        o.calc(["margin"])
    with pytest.raises(InvalidOrderError, match="1 to 30"):
        o.calc(["balance"] * 31)
    assert o.new_funding_offer("fUSD", "50", "0.0002", 7).payload == {
        "type": "LIMIT",
        "symbol": "fUSD",
        "amount": "50",
        "rate": "0.0002",
        "period": 7,
        "flags": 0,
    }
    assert o.new_funding_offer("fUSD", "-50", "0.0001", 7, type="FRRDELTAVAR", flags=64).payload["flags"] == 64
    with pytest.raises(InvalidOrderError, match="from 2 to 120"):
        o.new_funding_offer("fUSD", "50", "0.0002", 1)
    with pytest.raises(InvalidOrderError, match="HIDDEN 64"):
        o.new_funding_offer("fUSD", "50", "0.0002", 2, flags=o.POSTONLY)
    with pytest.raises(InvalidOrderError, match="funding symbol"):
        o.new_funding_offer("tBTCUSD", "50", "0.0002", 2)
    assert o.cancel_funding_offer(41238934).payload == {"id": 41238934}


def test_batch_limits_and_frame(clock: Clock) -> None:
    """order_batch sends one ox_multi of [kind, payload] pairs and takes 1 to 75 operations."""
    core = make_core(clock)
    with pytest.raises(InvalidOrderError, match="1 to 75"):
        core.submit_batch([o.cancel_order(i) for i in range(1, 77)])
    with pytest.raises(InvalidOrderError, match="kind on, ou, oc or oc_multi"):
        core.submit_batch([o.calc(["balance"])])
    batch = core.submit_batch([o.new_order("tBTCUSD", "1", "100", cid=9), o.cancel_order(5)])
    (frame,) = sent_frames(core)
    assert frame[:3] == [0, "ox_multi", None]
    assert frame[3] == [["on", batch.requests[0].input.payload], ["oc", {"id": 5}]]


def test_cids_are_unique_per_day_and_below_2_45(clock: Clock) -> None:
    """Generated cids are ms-of-day * 1000 plus a counter, increasing, restarting each UTC day."""
    source = o.CidSource(lambda: clock.wall)
    first, day = source.next()
    assert day == "2026-12-01" and first == 12 * 3600 * 1000 * 1000
    assert source.next()[0] == first + 1
    clock.advance(12 * 3600 - 0.001)  # 23:59:59.999
    late, _ = source.next()
    assert late == 86_399_999_000 < 2**45
    clock.advance(0.002)
    assert source.next() == (1000, "2026-12-02")


# --------------------------------------------------------------------------------------------
# Reply matching
# --------------------------------------------------------------------------------------------


def test_on_req_success_resolves_with_the_order(clock: Clock) -> None:
    """The documented flow: `n` on-req SUCCESS completes the future, the `on` frame opens it in orders()."""
    core = make_core(clock)
    req = core.submit(o.new_order("tBTCUSD", "1", "12000", cid=555))
    (frame,) = sent_frames(core)
    assert frame[3]["cid"] == 555 and not req.done()
    feed(core, FIXGW_ON_REQ_OK)
    settle(core)
    order = req.result(timeout=0)
    assert isinstance(order, Order) and order.id == 1234567 and order.price == D("12000")
    assert req.notification is not None and req.notification.text == "Submitting limit buy order for 1.0 BTC."
    feed(core, FIXGW_ON)
    assert core.orders[1234567].status == "ACTIVE"
    (change,) = core.take_changes()
    assert (change.kind, change.source, change.order.id) == ("new", "on", 1234567)


def test_replies_matched_by_cid_not_arrival_order(clock: Clock) -> None:
    """Two orders in flight each get their own reply when the replies arrive in reverse order."""
    core = make_core(clock)
    a = core.submit(o.new_order("tLTCBTC", "0.2001", "0.0085489", cid=4))
    b = core.submit(o.new_order("tBTCUSD", "1", "12000", cid=555))
    sent_frames(core)
    feed(core, FIXGW_ON_REQ_OK)
    feed(core, CAPTURE_ON_REQ)
    settle(core)
    assert b.result(0).id == 1234567
    assert a.result(0).id == 16662905539


def test_generated_cid_is_sent_and_matched(clock: Clock) -> None:
    """Without a cid the core assigns one, sends it, and matches the reply on it."""
    core = make_core(clock)
    req = core.submit(o.new_order("tBTCUSD", "0.5", "1000"))
    (frame,) = sent_frames(core)
    assert req.cid == frame[3]["cid"] and 0 < req.cid < 2**45 and req.cid_date == "2026-12-01"
    reply: list[Any] = [0, "n", [None, "on-req", None, None, order_row(42, req.cid), None, "SUCCESS", "ok"]]
    feed(core, reply)
    settle(core)
    assert req.result(0).id == 42


def test_on_req_error_rejects_with_exchange_text(clock: Clock) -> None:
    """ERROR notifications fail the future with the exchange's status and text (id is null in them)."""
    core = make_core(clock)
    req = core.submit(o.new_order("tBTCUSD", "-1", "12483", cid=555))
    other = core.submit(o.new_order("tBTCUSD", "0.001", type="EXCHANGE MARKET", cid=1513970684865))
    sent_frames(core)
    feed(core, FIXGW_ON_REQ_BAD_PRICE)
    settle(core)
    with pytest.raises(OrderRejectedError, match="Invalid price") as err:
        req.result(0)
    assert (err.value.status, err.value.text, err.value.cid, err.value.kind) == ("ERROR", "Invalid price.", 555, "on")
    assert not other.done()  # the other order's reply has not come


def test_rejection_without_cid_matched_by_content(clock: Clock) -> None:
    """An ERROR with a null cid is matched to the one pending order of that symbol and amount."""
    core = make_core(clock)
    req = core.submit(o.new_order("tBTCUSD", "0.001", type="EXCHANGE MARKET", cid=77))
    sent_frames(core)
    frame = json.loads(JAVA_ON_REQ_MIN_SIZE, parse_float=str)
    frame[2][4][2] = None
    feed(core, frame)
    settle(core)
    with pytest.raises(OrderRejectedError, match=r"minimum size for BTC/USD is 0\.002"):
        req.result(0)


def test_exchange_rate_limit_reply_is_specific(clock: Clock) -> None:
    """A `ratelimit` refusal fails the future with OrderRateLimitError (local False), also a RateLimitError."""
    core = make_core(clock)
    req = core.submit(o.new_order("tBTCUSD", "1", "12000", cid=555))
    sent_frames(core)
    frame = json.loads(FIXGW_ON_REQ_BAD_PRICE, parse_float=str)
    frame[2][7] = "ratelimit: error"
    feed(core, frame)
    settle(core)
    with pytest.raises(OrderRateLimitError) as err:
        req.result(0)
    assert err.value.local is False and isinstance(err.value, RateLimitError)


def test_cancel_acknowledged_then_confirmed_by_oc(clock: Clock) -> None:
    """oc-req SUCCESS only acknowledges ("waiting for confirmation"); the `oc` frame completes the cancel."""
    core = make_core(clock)
    feed(core, CAPTURE_ON)
    req = core.submit(o.cancel_order(16662905539))
    sent_frames(core)
    feed(core, CAPTURE_OC_REQ)
    settle(core)
    assert req.state == "acknowledged" and not req.done()
    feed(core, CAPTURE_OC)
    settle(core)
    assert req.result(0).status == "CANCELED"
    assert 16662905539 not in core.orders
    assert [c.kind for c in core.take_changes()] == ["new", "closed"]


def test_cancel_by_cid_matched_on_cid(clock: Clock) -> None:
    """A cancel by cid takes the cid_date of that cid's submission and is matched on the cid."""
    core = make_core(clock)
    core.submit(o.new_order("tBTCUSD", "1", "12000", cid=555))
    sent_frames(core)
    feed(core, FIXGW_ON_REQ_OK)
    req = core.submit(o.cancel_order(cid=555))
    (frame,) = sent_frames(core)
    assert frame[3] == {"cid": 555, "cid_date": "2026-12-01"}
    feed(core, FIXGW_OC_REQ_BY_CID)
    oc = json.loads(FIXGW_ON, parse_float=str)
    oc[1] = "oc"
    oc[2][4] = int(T0 * 1000)
    oc[2][13] = "CANCELED"
    feed(core, oc)
    settle(core)
    assert req.result(0).id == 1234567 and req.state == "done"


def test_cancel_error_rejects(clock: Clock) -> None:
    """An oc-req ERROR ("Order not found.") fails the cancel."""
    core = make_core(clock)
    req = core.submit(o.cancel_order(1185815100))
    sent_frames(core)
    frame = json.loads(DOCS_OC_REQ, parse_float=str)
    frame[2][6], frame[2][7] = "ERROR", "Order not found."
    feed(core, frame)
    settle(core)
    with pytest.raises(OrderRejectedError, match="Order not found"):
        req.result(0)


def test_update_resolves_with_the_notified_order(clock: Clock) -> None:
    """ou-req SUCCESS carrying the order row completes the update with it."""
    core = make_core(clock)
    req = core.submit(o.update_order(1187252384, price="2.1", amount="1.2"))
    sent_frames(core)
    row = order_row(1187252384, 12345, amount="1.2", price="2.1")
    feed(core, [0, "n", [1588506601803, "ou-req", None, None, row, None, "SUCCESS", "Submitting update"]])
    settle(core)
    assert req.result(0).price == D("2.1")


def test_cancel_orders_resolves_with_the_cancelled_rows(clock: Clock) -> None:
    """oc_multi-req SUCCESS gives the tuple of orders it cancels; a second oc_multi in flight is refused."""
    core = make_core(clock)
    req = core.submit(o.cancel_orders(ids=[1, 2]))
    sent_frames(core)
    second = core.submit(o.cancel_orders(all=True))
    with pytest.raises(OrderNotSentError, match="one at a time"):
        second.result(0)
    feed(core, [0, "n", [1, "oc_multi-req", None, None, [order_row(1, 10), order_row(2, 11)], None, "SUCCESS", "ok"]])
    settle(core)
    assert [x.id for x in req.result(0)] == [1, 2]


def test_batch_operations_matched_individually(clock: Clock) -> None:
    """Each ox_multi operation completes from its own notification; the batch gives all results in order."""
    core = make_core(clock)
    feed(core, [0, "on", order_row(5, 50)])
    batch = core.submit_batch([o.new_order("tBTCUSD", "0.5", "1000", cid=9), o.cancel_order(5)])
    sent_frames(core)
    feed(core, [0, "n", [1, "oc-req", None, None, [5, *[None] * 30], None, "SUCCESS", "waiting"]])
    feed(core, [0, "oc", order_row(5, 50, status="CANCELED")])
    settle(core)
    assert batch.requests[1].done() and not batch.done()
    feed(core, [0, "n", [1, "on-req", None, None, order_row(6, 9), None, "SUCCESS", "ok"]])
    settle(core)
    assert [x.id for x in batch.result(0)] == [6, 5]


def test_batch_error_fails_pending_operations(clock: Clock) -> None:
    """An ox_multi-req ERROR fails every operation still waiting; the batch raises the first error."""
    core = make_core(clock)
    batch = core.submit_batch([o.new_order("tBTCUSD", "0.5", "1000", cid=9), o.cancel_order(5)])
    sent_frames(core)
    feed(core, [0, "n", [1, "ox_multi-req", None, None, None, None, "ERROR", "ops: invalid"]])
    settle(core)
    for req in (batch, *batch.requests):
        with pytest.raises(OrderRejectedError, match="ops: invalid"):
            req.result(0)


def test_funding_offer_matched_on_amount_rate_period(clock: Clock) -> None:
    """fon-req has no client id: the docs' reply is matched on amount, rate and period."""
    core = make_core(clock)
    other = core.submit(o.new_funding_offer("fUSD", "500", "0.01", 2))
    req = core.submit(o.new_funding_offer("fUSD", "500", "0.02", 2))
    sent_frames(core)
    twin = core.submit(o.new_funding_offer("fUSD", "500", "0.02", 2))
    with pytest.raises(OrderNotSentError, match="same amount, rate and period"):
        twin.result(0)
    feed(core, DOCS_FON_REQ)
    settle(core)
    assert req.result(0).id == 41238934 and not other.done()


def test_funding_offer_cancel_confirmed_by_foc(clock: Clock) -> None:
    """foc-req SUCCESS acknowledges; the `foc` frame completes the cancel with the offer."""
    core = make_core(clock)
    req = core.submit(o.cancel_funding_offer(41238747))
    sent_frames(core)
    row: list[Any] = [
        41238747,
        "fUST",
        1575026670000,
        1575026670000,
        5000,
        5000,
        "LIMIT",
        None,
        None,
        0,
        "CANCELED",
        None,
        None,
        None,
        "0.006",
        30,
        0,
        0,
        None,
        0,
        None,
    ]
    feed(core, [0, "n", [1, "foc-req", None, None, row, None, "SUCCESS", "ok"]])
    settle(core)
    assert not req.done()
    feed(core, [0, "foc", row])
    settle(core)
    assert req.result(0).id == 41238747


def test_calc_done_when_sent(clock: Clock) -> None:
    """calc has no reply: its future completes with None once the frame is sent."""
    core = make_core(clock)
    req = core.submit(o.calc(["balance"]))
    assert not req.done()
    sent_frames(core)
    assert req.result(0) is None


# --------------------------------------------------------------------------------------------
# Fail fast, conflicts, rate limits
# --------------------------------------------------------------------------------------------


def test_fail_fast_when_not_connected_authenticated_or_paused(clock: Clock) -> None:
    """Inputs fail at once with OrderNotSentError, and nothing is queued, when they cannot be sent."""
    core = o.OrderCore(wall=lambda: clock.wall, monotonic=lambda: clock.mono)
    with pytest.raises(OrderNotSentError, match="not connected"):
        core.submit(o.new_order("tBTCUSD", "1", "1")).result(0)
    core.open = True
    with pytest.raises(OrderNotSentError, match="not authenticated"):
        core.submit(o.new_order("tBTCUSD", "1", "1")).result(0)
    core.authenticated_now()
    core.set_paused(True)
    with pytest.raises(OrderNotSentError, match="maintenance"):
        core.submit(o.cancel_order(1)).result(0)
    assert core.take_frames() == [] and core.pending == ()
    core.set_paused(False)
    core.submit(o.cancel_order(1))
    assert len(core.take_frames()) == 1


def test_conflicting_inputs_refused(clock: Clock) -> None:
    """A second update of one order, or a duplicate cid, is refused while the first is in flight."""
    core = make_core(clock)
    core.submit(o.update_order(7, price="100"))
    core.submit(o.new_order("tBTCUSD", "1", "1", cid=3))
    with pytest.raises(OrderNotSentError, match="update of order 7"):
        core.submit(o.update_order(7, price="101")).result(0)
    with pytest.raises(OrderNotSentError, match="cid 3"):
        core.submit(o.new_order("tBTCUSD", "1", "1", cid=3)).result(0)
    assert core.submit(o.cancel_order(7)).state == "sent"  # a cancel of that order is fine
    with pytest.raises(InvalidOrderError, match="not in the future"):
        core.submit(o.new_order("tBTCUSD", "1", "1", tif="2026-11-30"))


def test_local_rate_limit_refuses_without_waiting(clock: Clock) -> None:
    """Past the configured window the input is refused locally with retry_after; room returns with time."""
    core = make_core(clock, order_rate_limit=(2, 10.0))
    core.submit(o.new_order("tBTCUSD", "1", "1"))
    clock.advance(4)
    core.submit(o.new_order("tBTCUSD", "1", "1"))
    refused = core.submit(o.new_order("tBTCUSD", "1", "1"))
    with pytest.raises(OrderRateLimitError, match="2 new orders per 10s") as err:
        refused.result(0)
    assert err.value.local is True and err.value.retry_after == pytest.approx(6.0)
    assert core.submit(o.cancel_order(1)).state == "sent"  # cancels are not counted
    clock.advance(6)
    assert core.submit(o.new_order("tBTCUSD", "1", "1")).state == "sent"
    with pytest.raises(OrderRateLimitError, match="never fit"):
        core.submit_batch([o.new_order("tBTCUSD", "1", "1", cid=i) for i in range(1, 4)]).result(0)


def test_calc_rate_limit(clock: Clock) -> None:
    """calc items count against 8 calculations per second by default."""
    core = make_core(clock)
    core.submit(o.calc(["balance"] * 8))
    with pytest.raises(OrderRateLimitError, match="8 calculations per 1s"):
        core.submit(o.calc(["margin_base"])).result(0)


# --------------------------------------------------------------------------------------------
# Exactly once and reconciliation
# --------------------------------------------------------------------------------------------


def drop_and_return(core: o.OrderCore) -> None:
    core.connection_lost()
    core.authenticated_now()


def test_in_doubt_order_found_in_snapshot(clock: Clock) -> None:
    """A drop before the reply puts the order in doubt; it is not resent; the os holding its cid completes it."""
    core = make_core(clock)
    req = core.submit(o.new_order("tBTCUSD", "0.5", "1000"))
    assert len(sent_frames(core)) == 1
    drop_and_return(core)
    assert req.state == "in_doubt" and core.take_frames() == []
    feed(core, [0, "os", [order_row(99, req.cid)]])
    settle(core)
    assert req.result(0).id == 99 and req.reconciled
    assert core.take_frames() == []


def test_in_doubt_order_absent_fails_unknown_after_grace(clock: Clock) -> None:
    """Not in the os and nothing within the grace: OrderStatusUnknownError with open=False (dms=4 noted)."""
    core = make_core(clock, dms=4, reconcile_grace=2.0)
    req = core.submit(o.new_order("tBTCUSD", "0.5", "1000"))
    sent_frames(core)
    drop_and_return(core)
    feed(core, [0, "os", []])
    core.check()
    assert req.state == "reconciling" and not core.take_completions()
    clock.advance(2.0)
    core.check()
    settle(core)
    with pytest.raises(OrderStatusUnknownError, match=r"not among the open orders.*dms=4") as err:
        req.result(0)
    assert err.value.open is False and err.value.cid == req.cid and err.value.cid_date == "2026-12-01"


def test_late_frame_during_grace_completes(clock: Clock) -> None:
    """An order that fills at once shows up as `oc` only: arriving within the grace it completes the request."""
    core = make_core(clock)
    req = core.submit(o.new_order("tBTCUSD", "0.5", "1000"))
    sent_frames(core)
    drop_and_return(core)
    feed(core, [0, "os", []])
    clock.advance(1.0)
    feed(core, [0, "oc", order_row(99, req.cid, status="EXECUTED @ 1000.0(0.5)")])
    settle(core)
    assert req.result(0).status.startswith("EXECUTED") and req.reconciled


def test_snapshot_from_another_day_does_not_match(clock: Clock) -> None:
    """An open order with the same cid created on another UTC day is not taken for the one in doubt."""
    core = make_core(clock, reconcile_grace=0.0)
    req = core.submit(o.new_order("tBTCUSD", "0.5", "1000", cid=4242))
    sent_frames(core)
    drop_and_return(core)
    feed(core, [0, "os", [order_row(1, 4242, mts=int((T0 - 3 * 86400) * 1000))]])
    core.check()
    settle(core)
    with pytest.raises(OrderStatusUnknownError):
        req.result(0)


def test_in_doubt_cancel_and_update_follow_the_snapshot(clock: Clock) -> None:
    """Cancel: order still open -> unknown(open=True); gone -> unknown(open=False).  Update: visible -> done."""
    core = make_core(clock, reconcile_grace=0.0)
    for oid in (1, 2, 3):
        feed(core, [0, "on", order_row(oid, oid)])
    still = core.submit(o.cancel_order(1))
    gone = core.submit(o.cancel_order(2))
    upd = core.submit(o.update_order(3, price="1200"))
    sent_frames(core)
    drop_and_return(core)
    feed(core, [0, "os", [order_row(1, 1), order_row(3, 3, price="1200")]])
    core.check()
    settle(core)
    with pytest.raises(OrderStatusUnknownError) as a:
        still.result(0)
    assert a.value.open is True and a.value.order.id == 1
    with pytest.raises(OrderStatusUnknownError) as b:
        gone.result(0)
    assert b.value.open is False
    assert upd.result(0).price == D("1200") and upd.reconciled


def test_in_doubt_updates_say_whether_sending_again_is_safe(clock: Clock) -> None:
    """An open order without a visible change: a lost cancel may be sent again, a lost price
    update too; a delta cannot be seen in the order, so the error says it might be applied twice."""
    core = make_core(clock, reconcile_grace=0.0)
    for oid in (1, 2, 3):
        feed(core, [0, "on", order_row(oid, oid)])
    cancel = core.submit(o.cancel_order(1))
    price = core.submit(o.update_order(2, price="1300"))
    delta = core.submit(o.update_order(3, delta="0.1"))
    sent_frames(core)
    drop_and_return(core)
    feed(core, [0, "os", [order_row(1, 1), order_row(2, 2), order_row(3, 3)]])
    core.check()
    settle(core)
    with pytest.raises(OrderStatusUnknownError, match="sending it again is safe") as a:
        cancel.result(0)
    assert a.value.open is True
    with pytest.raises(OrderStatusUnknownError, match=r"without the asked-for change.*send it again") as b:
        price.result(0)
    assert b.value.open is True and b.value.order.id == 2
    with pytest.raises(OrderStatusUnknownError, match=r"cannot be told.*\(delta not shown.*applied twice") as c:
        delta.result(0)
    assert c.value.open is True and "send it again" not in str(c.value)


def test_snapshot_reports_what_changed_while_away(clock: Clock) -> None:
    """After a reconnect the os replaces the view: orders gone are reported closed, new ones new."""
    core = make_core(clock)
    feed(core, [0, "os", [order_row(1, 1), order_row(2, 2)]])
    core.take_changes()
    drop_and_return(core)
    feed(core, [0, "os", [order_row(2, 2, amount="0.25"), order_row(3, 3)]])
    changes = {(c.kind, c.order.id, c.source) for c in core.take_changes()}
    assert changes == {("closed", 1, "os"), ("update", 2, "os"), ("new", 3, "os")}
    assert set(core.orders) == {2, 3}


def test_trade_seen_before_drop_is_reported(clock: Clock) -> None:
    """A `te` for the cid before the drop says the order was accepted, in the unknown-outcome message."""
    core = make_core(clock, reconcile_grace=0.0)
    req = core.submit(o.new_order("tBTCUSD", "0.5", "1000"))
    sent_frames(core)
    trade = [7, "tBTCUSD", int(T0 * 1000), 99, "0.5", "1000", "EXCHANGE LIMIT", "1000", -1, None, None, req.cid]
    feed(core, [0, "te", trade])
    drop_and_return(core)
    feed(core, [0, "os", []])
    core.check()
    settle(core)
    with pytest.raises(OrderStatusUnknownError, match="trade of order 99 was seen"):
        req.result(0)


def test_timeouts_never_hang(clock: Clock) -> None:
    """No reply on a live socket, or no socket back within reconcile_timeout: the future fails unknown."""
    core = make_core(clock, confirm_timeout=5.0, reconcile_timeout=30.0)
    live = core.submit(o.new_order("tBTCUSD", "0.5", "1000"))
    sent_frames(core)
    clock.advance(5.5)
    core.check()
    settle(core)
    with pytest.raises(OrderStatusUnknownError, match="no confirmation within 5s"):
        live.result(0)
    lost = core.submit(o.new_order("tBTCUSD", "0.5", "1000"))
    sent_frames(core)
    core.connection_lost()
    clock.advance(29)
    core.check()
    assert not core.take_completions()
    clock.advance(2)
    core.check()
    settle(core)
    with pytest.raises(OrderStatusUnknownError, match="within 30s") as err:
        lost.result(0)
    assert err.value.open is None


def test_failed_send_is_in_doubt_not_resent(clock: Clock) -> None:
    """A frame the transport refused is in doubt (it may have left in part) and is never queued again."""
    core = make_core(clock)
    req = core.submit(o.new_order("tBTCUSD", "0.5", "1000"))
    ((_, reqs),) = core.take_frames()
    core.sent(reqs, False)
    assert req.state == "in_doubt"
    drop_and_return(core)
    assert core.take_frames() == []


def test_close_fails_everything_pending(clock: Clock) -> None:
    """Closing fails every undecided request, batches included."""
    core = make_core(clock)
    a = core.submit(o.new_order("tBTCUSD", "0.5", "1000"))
    batch = core.submit_batch([o.cancel_order(1)])
    core.close()
    settle(core)
    for req in (a, batch, *batch.requests):
        with pytest.raises(OrderStatusUnknownError, match="closed"):
            req.result(0)
    with pytest.raises(OrderNotSentError, match="closed"):
        core.submit(o.cancel_order(2)).result(0)


# --------------------------------------------------------------------------------------------
# Futures and views
# --------------------------------------------------------------------------------------------


def test_handles_are_standard_futures(clock: Clock) -> None:
    """Handles work with wait/as_completed and done-callbacks; cancel() cannot withdraw a sent input."""
    core = make_core(clock)
    a = core.submit(o.new_order("tBTCUSD", "1", "12000", cid=555))
    b = core.submit(o.new_order("tLTCBTC", "0.2001", "0.0085489", cid=4))
    seen: list[Any] = []
    a.add_done_callback(lambda f: seen.append(f.result().id))
    assert a.cancel() is False and not a.cancelled()
    sent_frames(core)
    feed(core, FIXGW_ON_REQ_OK)
    settle(core)
    done, not_done = wait([a, b], timeout=0, return_when=FIRST_COMPLETED)
    assert done == {a} and not_done == {b} and seen == [1234567]
    feed(core, CAPTURE_ON_REQ)
    settle(core)
    assert {f.result().id for f in as_completed([a, b], timeout=0)} == {1234567, 16662905539}


def test_wallet_view(clock: Clock) -> None:
    """Wallets are kept from ws/wu by (type, currency)."""
    core = make_core(clock)
    feed(core, '[0,"ws",[["exchange","BTC",0.3,0,null],["exchange","USD",1000,0,null]]]')
    feed(core, '[0,"wu",["exchange","USD",400.5,0,400.5,null,null]]')
    wallets = core.wallets
    assert wallets[("exchange", "USD")].balance == D("400.5")
    assert wallets[("exchange", "BTC")].balance == D("0.3")


def test_refusal_without_an_id_matched_by_elimination(clock: Clock) -> None:
    """An oc-req ERROR naming no order goes to the single cancel in flight; with two it stays unmatched."""
    core = make_core(clock)
    req = core.submit(o.cancel_order(1185815100))
    sent_frames(core)
    frame: list[Any] = [0, "n", [1, "oc-req", None, None, [None] * 32, None, "ERROR", "Order not found."]]
    feed(core, frame)
    settle(core)
    with pytest.raises(OrderRejectedError, match="Order not found"):
        req.result(0)
    a, b = core.submit(o.cancel_order(1)), core.submit(o.cancel_order(2))
    sent_frames(core)
    feed(core, frame)
    settle(core)
    assert not a.done() and not b.done()


def test_refuse_gives_a_failed_handle(clock: Clock) -> None:
    """refuse() fails the handle at once with the reason and queues nothing."""
    core = make_core(clock)
    req = core.refuse(o.cancel_order(1), "this client has no API keys")
    with pytest.raises(OrderNotSentError, match="no API keys"):
        req.result(0)
    assert core.take_frames() == []


def test_batch_reply_with_inner_notifications(clock: Clock) -> None:
    """An ox_multi-req SUCCESS carrying each operation's notification (REST style) completes each."""
    core = make_core(clock)
    batch = core.submit_batch(
        [o.new_order("tBTCUSD", "0.5", "1000", cid=9), o.new_order("tBTCUSD", "0.5", "990", cid=10)]
    )
    sent_frames(core)
    inner = [
        [1, "on-req", None, None, order_row(6, 9), None, "SUCCESS", "ok"],
        [1, "on-req", None, None, [None, None, 10, "tBTCUSD", *[None] * 28], None, "ERROR", "Invalid price."],
    ]
    feed(core, [0, "n", [1, "ox_multi-req", None, None, inner, None, "SUCCESS", "Submitting 2 operations"]])
    settle(core)
    assert batch.requests[0].result(0).id == 6
    with pytest.raises(OrderRejectedError, match="Invalid price"):
        batch.result(0)


def test_in_doubt_funding_offer_found_in_fos(clock: Clock) -> None:
    """A funding offer in doubt is completed by the fos after re-auth holding its amount, rate and period."""
    core = make_core(clock)
    req = core.submit(o.new_funding_offer("fUSD", "500", "0.02", 2))
    sent_frames(core)
    drop_and_return(core)
    row: list[Any] = [
        41238934,
        "fUSD",
        1,
        1,
        "500",
        "500",
        "LIMIT",
        None,
        None,
        0,
        "ACTIVE",
        None,
        None,
        None,
        "0.02",
        2,
    ]
    feed(core, [0, "fos", [[*row, 0, 0, None, 0, None]]])
    settle(core)
    assert req.result(0).id == 41238934 and req.reconciled


# --------------------------------------------------------------------------------------------
# The core's collaborators, each on its own
# --------------------------------------------------------------------------------------------

# Every name `bpbfx.bitfinex.orders` offered when it was a single module.
PUBLIC_NAMES = (
    "CALC_RATE_LIMIT CLOSE HIDDEN MAX_BATCH_OPS MAX_CALC_ITEMS MAX_CID NO_VAR_RATES OCO OFFER_TYPES ORDER_FLAGS "
    "ORDER_RATE_LIMIT ORDER_TYPES POSTONLY REDUCE_ONLY BatchRequest CidSource Completion InputKind OrderChange "
    "OrderCore OrderInput Request RequestState calc cancel_funding_offer cancel_order cancel_orders cid_date_of "
    "complete new_funding_offer new_order to_decimal update_order"
).split()
# Names added since: the order history reads.
ADDED_NAMES = ("HISTORY_RATE_LIMIT", "HistoryLookup")


def order_of(row: list[Any]) -> Order:
    """The Order an `on` frame carrying ``row`` decodes to."""
    event = decode_account("on", row)
    assert isinstance(event, OrderUpdate)
    return event.order


def test_public_names_stay_importable_from_the_package() -> None:
    """Every public name of the order entry module is importable from bpbfx.bitfinex.orders,
    and the package exports exactly those and the names added since."""
    missing = [name for name in (*PUBLIC_NAMES, *ADDED_NAMES) if not hasattr(o, name)]
    assert missing == [] and set(o.__all__) == set(PUBLIC_NAMES) | set(ADDED_NAMES)


def test_ledger_decides_once_and_a_batch_when_all_its_operations_are() -> None:
    """A request is decided once; a batch is decided (with its first error) once every operation is."""
    ledger = Ledger(today=lambda: "2026-12-01")
    first = o.Request(o.new_order("tBTCUSD", "1", "100", cid=1))
    second = o.Request(o.cancel_order(7))
    batch = o.BatchRequest(o.OrderInput("ox_multi", []), [first, second])
    for req in (batch, first, second):
        req.batch = batch if req is not batch else None
        ledger.register(req)
    assert first.cid_date == "2026-12-01" and ledger.new == {1: first} and ledger.cancels == {7: second}
    ledger.decide(first, order_of(order_row(5, 1)), None)
    ledger.decide(first, None, RuntimeError("ignored: decided already"))
    assert batch.outcome is None and list(ledger.live) == [batch, second]
    refused = RuntimeError("refused")
    ledger.decide(second, None, refused)
    done = ledger.take_completions()
    assert [(req, error) for req, _, error in done] == [(first, None), (second, refused), (batch, refused)]
    assert list(ledger.live) == [] and ledger.new == {} and ledger.cancels == {} and ledger.batch is None


def test_ledger_refuses_replies_it_could_not_tell_apart() -> None:
    """Two inputs whose replies would look alike are a conflict; distinct ones are not."""
    ledger = Ledger(today=lambda: "2026-12-01")
    offer = o.Request(o.new_funding_offer("fUSD", "100", "0.0002", 2))
    ledger.register(offer)
    same = o.Request(o.new_funding_offer("fUSD", "100.0", "0.00020", 2))
    other = o.Request(o.new_funding_offer("fUSD", "100", "0.0002", 3))
    assert "same amount, rate and period" in str(ledger.conflict([same], same))
    assert ledger.conflict([other], other) is None
    twice = [o.Request(o.cancel_order(9)), o.Request(o.cancel_order(9))]
    assert "same order (9)" in str(ledger.conflict(twice, o.BatchRequest(o.OrderInput("ox_multi", []), twice)))


def test_account_view_reports_changes_from_frames_and_snapshots() -> None:
    """on/ou/oc frames and an os snapshot replace the open orders and report new, update and closed."""
    view = AccountView()
    first, second = order_of(order_row(1, 1)), order_of(order_row(2, 2))
    view.order_frame(first, "new")
    view.order_frame(second, "new")
    view.order_frame(first, "cancel")
    assert [(c.kind, c.order.id, c.source) for c in view.take_changes()] == [
        ("new", 1, "on"),
        ("new", 2, "on"),
        ("closed", 1, "oc"),
    ]
    view.orders_snapshot([order_of(order_row(3, 3))])
    assert [(c.kind, c.order.id, c.source) for c in view.take_changes()] == [("new", 3, "os"), ("closed", 2, "os")]
    assert list(view.orders) == [3] and view.take_changes() == []


def test_reconcile_decides_what_the_snapshot_shows_and_waits_for_the_rest() -> None:
    """A new order in doubt found in the snapshot is done; one not found waits until the
    deadline, then give_up fails it unknown (open=False)."""
    ledger, view = Ledger(today=lambda: "2026-12-01"), AccountView()
    found = o.Request(o.new_order("tBTCUSD", "0.5", "1000", cid=11))
    missing = o.Request(o.new_order("tBTCUSD", "1", "9", cid=12))
    for req in (found, missing):
        ledger.register(req)
        req.state = "in_doubt"
    view.orders_snapshot([order_of(order_row(77, 11))])
    reconcile_orders(ledger, view, deadline=1234.0)
    assert found.outcome is not None and found.reconciled and found.order_id == 77
    assert missing.state == "reconciling" and missing.deadline == 1234.0 and list(ledger.live) == [missing]
    give_up(ledger, view, missing, dms=4)
    [error] = [error for req, _result, error in ledger.take_completions() if req is missing]
    assert isinstance(error, OrderStatusUnknownError) and error.open is False and "dms=4" in str(error)
