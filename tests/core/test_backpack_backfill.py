"""Backpack trade backfill core: holes in the sequential trade ids, reconnects, REST pages in
and backfilled trades out, dedup across both sources, and giving up with the id range."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from bpbfx import TradeGapError
from bpbfx.backfill import BackfillPolicy, Pacer
from bpbfx.backpack.backfill import DISARMED, HISTORY, PAGE, RECENT, FetchTrades, TradeBackfill, parse_rows
from bpbfx.backpack.events import Trade

STREAM = "trade.SOL_USDC"


def live(trade_id: int) -> Trade:
    return Trade(stream=STREAM, symbol="SOL_USDC", data={"t": trade_id}, trade_id=trade_id, price=Decimal("100.5"),
                 quantity=Decimal("2"), buyer_is_maker=True, buy_order_id="1", sell_order_id="2",
                 event_time_us=trade_id * 1000, engine_time_us=trade_id * 1000)


def rows(first: int, last: int) -> str:
    """A REST answer's text with the trades ``first``..``last``, oldest first."""
    return json.dumps([
        {"id": i, "price": "100.5", "quantity": "2", "quoteQuantity": "201", "timestamp": 1_700_000_000_000 + i,
         "isBuyerMaker": i % 2 == 0}
        for i in range(first, last + 1)
    ])


def run(core: TradeBackfill, ids: list[int], now: float = 0.0) -> list[int]:
    """Feed live trades as the client does (fast path on next_id); the ids delivered."""
    delivered = []
    for t in ids:
        tape = core.tapes[STREAM]
        if t == tape.next_id:
            tape.next_id = t + 1
            delivered.append(t)
        elif core.live(live(t), now).deliver:
            delivered.append(t)
    return delivered


def started(first: int = 100, last: int = 110) -> TradeBackfill:
    core = TradeBackfill()
    core.add(STREAM, "SOL_USDC")
    assert run(core, list(range(first, last + 1))) == list(range(first, last + 1))
    return core


def test_the_first_trade_arms_the_fast_path_and_contiguous_ids_stay_on_it() -> None:
    """The first trade starts the tape; the next id is expected, and nothing is fetched."""
    core = TradeBackfill()
    core.add(STREAM, "SOL_USDC")
    assert core.tapes[STREAM].next_id == DISARMED
    out = core.live(live(100), 0.0)
    assert out.deliver and out.fetch is None and not out.errors
    assert core.tapes[STREAM].next_id == 101
    assert run(core, [101, 102, 103]) == [101, 102, 103]
    assert core.tapes[STREAM].next_id == 104 and core.gaps == 0


def test_a_jump_asks_for_the_missing_ids_and_the_answer_fills_them_once() -> None:
    """Ids 111..114 skipped: one history page ending at 114; only those four come back, by id,
    marked backfill; the fast path is armed again after."""
    core = started()
    out = core.live(live(115), 1.0)
    assert out.deliver
    fetch = out.fetch
    assert fetch is not None and fetch.path == HISTORY and fetch.limit == PAGE
    assert fetch.offset == 1 and fetch.top == 114  # 115 is the newest known: 114 is one back
    assert fetch.params == {"symbol": "SOL_USDC", "limit": "1000", "offset": "1"}
    assert core.tapes[STREAM].next_id == DISARMED
    assert run(core, [116]) == [116]  # live trades go on while the page is out
    answer = core.answered(fetch, rows(105, 116), 1.1)
    assert [e.trade_id for e in answer.events] == [111, 112, 113, 114]
    assert all(e.backfill for e in answer.events) and not answer.errors and answer.fetch is None
    assert core.tapes[STREAM].next_id == 117
    assert (core.backfilled, core.gaps) == (4, 1)


def test_backfilled_rows_keep_the_stream_shape_and_exact_numbers() -> None:
    """A REST row becomes a Trade with Decimal price/quantity from the text, both times from the
    row's timestamp (ms -> us), no order ids, and data written like a stream frame."""
    [event] = parse_rows(STREAM, "SOL_USDC", rows(7, 7))
    assert event.price == Decimal("100.5") and str(event.quantity) == "2"
    assert event.event_time_us == event.engine_time_us == (1_700_000_000_000 + 7) * 1000
    assert event.buy_order_id is None and event.buyer_is_maker is False and event.backfill
    assert event.data == {"e": "trade", "E": event.event_time_us, "s": "SOL_USDC", "p": "100.5", "q": "2", "t": 7,
                          "T": event.event_time_us, "m": False}
    with pytest.raises(ValueError, match="not a trade row"):
        parse_rows(STREAM, "SOL_USDC", '[{"id": 1}]')
    with pytest.raises(ValueError, match="expected a list"):
        parse_rows(STREAM, "SOL_USDC", '{"code": "X"}')


def test_a_live_trade_already_backfilled_is_not_delivered_twice() -> None:
    """The page brought 111..118 before the stream delivered 116..118: those live copies are
    dropped, the next new id goes on."""
    core = started()
    out = core.live(live(115), 0.0)
    assert out.fetch is not None
    answer = core.answered(out.fetch, rows(111, 118), 0.1)
    assert [e.trade_id for e in answer.events] == [111, 112, 113, 114]  # above 115: not known yet
    assert run(core, [116, 117, 118, 119]) == [116, 117, 118, 119]
    out = core.live(live(121), 0.2)
    assert out.fetch is not None
    assert [e.trade_id for e in core.answered(out.fetch, rows(115, 125), 0.3).events] == [120]
    assert run(core, [122, 120, 121, 123]) == [122, 123]


def test_a_reconnect_asks_for_the_recent_trades_at_once() -> None:
    """After a reconnect the recent trades are fetched even if the market stays quiet; the ones
    printed while away come back, the ones delivered before do not."""
    core = started()
    core.connection_lost()
    [fetch] = core.connection_made(5.0)
    assert fetch.path == RECENT and fetch.offset is None and fetch.params == {"symbol": "SOL_USDC", "limit": "1000"}
    answer = core.answered(fetch, rows(50, 130), 5.1)
    assert [e.trade_id for e in answer.events] == list(range(111, 131))
    assert answer.fetch is None and core.tapes[STREAM].next_id == 131
    assert (core.backfilled, core.gaps) == (20, 1)


def test_a_reconnect_that_missed_nothing_counts_no_gap() -> None:
    """The recent trades end where the tape did: nothing delivered, no hole counted."""
    core = started()
    core.connection_lost()
    [fetch] = core.connection_made(0.0)
    answer = core.answered(fetch, rows(1, 110), 0.1)
    assert answer.events == [] and core.gaps == 0 and core.tapes[STREAM].next_id == 111


def test_a_long_outage_pages_back_through_the_history() -> None:
    """2,500 trades missed: the recent page, then history pages by offset, highest first, until
    every id is delivered once."""
    core = started(1, 10)
    core.connection_lost()
    [fetch] = core.connection_made(0.0)
    newest = 2510
    answer = core.answered(fetch, rows(newest - 999, newest), 0.0)
    delivered = [e.trade_id for e in answer.events]
    pages = 0
    while answer.fetch is not None:
        fetch = answer.fetch
        assert fetch.path == HISTORY and fetch.offset is not None
        end = newest - fetch.offset
        answer = core.answered(fetch, rows(max(1, end - fetch.limit + 1), end), 0.0)
        delivered += [e.trade_id for e in answer.events]
        pages += 1
    assert sorted(delivered) == list(range(11, newest + 1)) and len(delivered) == len(set(delivered))
    assert pages == 2 and core.tapes[STREAM].next_id == newest + 1


def test_the_offset_follows_the_exchange_s_tape_as_it_grows() -> None:
    """A page that comes back shifted (the market traded meanwhile) tells the newest id: the
    next offset asks for exactly what is still missing."""
    core = started(1, 10)
    out = core.live(live(3000), 0.0)
    fetch = out.fetch
    assert fetch is not None and fetch.offset == 1  # top 2999
    # 1,500 more trades printed meanwhile: the page ends at 4499 - ... = 1500 above the top.
    answer = core.answered(fetch, rows(3500, 4499), 0.0)
    assert answer.events == []  # nothing of it was missing
    nxt = answer.fetch
    assert nxt is not None and nxt.top == 2999 and nxt.offset == 4500 - 2999
    answer = core.answered(nxt, rows(2000, 2999), 0.0)
    assert [e.trade_id for e in answer.events] == list(range(2000, 3000))


def test_a_refused_history_is_retried_then_given_up_with_the_id_range() -> None:
    """Three failures in a row: the hole is reported once with its first and last id and the
    reason, and the tape goes on after it (armed, nothing fetched)."""
    core = started()
    out = core.live(live(121), 0.0)
    fetch = out.fetch
    assert fetch is not None and fetch.delay == 0.0
    out = core.failed(fetch, "HTTP 503 from GET /api/v1/trades/history", 0.0)
    assert out.fetch is not None and out.fetch.delay == pytest.approx(0.5) and not out.errors
    out = core.failed(out.fetch, "HTTP 503 from GET /api/v1/trades/history", 1.0)
    assert out.fetch is not None and out.fetch.delay == pytest.approx(1.0)
    out = core.failed(out.fetch, "HTTP 503 from GET /api/v1/trades/history", 2.0)
    assert out.fetch is None
    [error] = out.errors
    assert isinstance(error, TradeGapError)
    assert (error.first_id, error.last_id, error.missing) == (111, 120, 10)
    assert (error.exchange, error.symbol, error.stream) == ("backpack", "SOL_USDC", STREAM)
    assert error.reason == "HTTP 503 from GET /api/v1/trades/history" and error.start_ms is None
    assert "10 trades, ids 111 to 120" in str(error)
    assert core.tapes[STREAM].next_id == 122 and core.gaps == 1
    assert run(core, [122, 123]) == [122, 123]


def test_a_history_that_does_not_reach_back_gives_the_rest_up() -> None:
    """The exchange keeps trades from id 115 on only: 115..120 are delivered, 111..114 are
    reported as beyond its history."""
    core = started()
    out = core.live(live(121), 0.0)
    assert out.fetch is not None
    answer = core.answered(out.fetch, rows(115, 121), 0.0)
    assert [e.trade_id for e in answer.events] == list(range(115, 121))
    [error] = answer.errors
    assert (error.first_id, error.last_id) == (111, 114)
    assert "history starts at id 115" in error.reason
    assert answer.fetch is None and core.tapes[STREAM].next_id == 122


def test_a_hole_too_large_is_given_up_at_once_beyond_the_limit() -> None:
    """A jump of more than max_missing ids: the older part is reported without a request, the
    newest max_missing are fetched."""
    core = TradeBackfill(BackfillPolicy(max_missing=50))
    core.add(STREAM, "SOL_USDC")
    run(core, [1, 2])
    out = core.live(live(1000), 0.0)
    [error] = out.errors
    assert (error.first_id, error.last_id) == (3, 949)
    assert "more than 50" in error.reason
    assert out.fetch is not None and out.fetch.top == 999


def test_pages_that_bring_nothing_count_as_failures() -> None:
    """History pages that never contain the missing ids end in a TradeGapError, not a loop."""
    core = started()
    out = core.live(live(121), 0.0)
    errors: list[TradeGapError] = []
    for _ in range(5):
        if out.fetch is None:
            break
        out = core.answered(out.fetch, rows(2000, 2999), 0.0)  # ids of some other numbering
        errors += out.errors
    assert [(e.first_id, e.last_id) for e in errors] == [(111, 120)]
    assert "brought none of the missing trades" in errors[0].reason


def test_an_unreadable_answer_is_a_failure() -> None:
    """An answer that is not a list of trades is retried like a refusal."""
    core = started()
    out = core.live(live(115), 0.0)
    assert out.fetch is not None
    out = core.answered(out.fetch, "<html>busy</html>", 0.0)
    assert out.fetch is not None and not out.events and core.tapes[STREAM].failures == 1


def test_answers_for_a_stream_no_longer_tracked_are_ignored() -> None:
    """Unsubscribed while a page was out: the answer changes nothing."""
    core = started()
    out = core.live(live(115), 0.0)
    assert out.fetch is not None
    core.remove(STREAM)
    assert core.answered(out.fetch, rows(100, 120), 0.0).events == []
    stray = FetchTrades("trade.OTHER", "OTHER", RECENT, PAGE, None, 0.0)
    assert core.failed(stray, "x", 0.0).errors == []


def test_ids_far_below_the_tape_start_it_again() -> None:
    """A market whose numbering restarted (ids far below the tape's) is not taken for
    duplicates: its trades are delivered and the tape starts from them."""
    core = TradeBackfill(BackfillPolicy(max_missing=100))
    core.add(STREAM, "SOL_USDC")
    run(core, [5000, 5001])
    assert run(core, [3, 4, 5]) == [3, 4, 5]
    assert core.tapes[STREAM].next_id == 6


def test_a_recorded_answer_replays_into_the_same_trades() -> None:
    """replayed() delivers the rows of a recorded answer the tape has not delivered, without a
    request, and ends the reconnect's recovery."""
    core = started()
    core.connection_lost()
    [fetch] = core.connection_made(0.0)
    core.dropped(fetch)  # a replaying client makes no request
    out = core.replayed(STREAM, rows(100, 113), 0.0)
    assert [e.trade_id for e in out.events] == [111, 112, 113]
    assert core.tapes[STREAM].next_id == 114 and not core.tapes[STREAM].recover
    assert core.replayed("trade.OTHER", rows(1, 2), 0.0).events == []


def test_a_dropped_request_stops_the_wait() -> None:
    """A request the shell will not make (a replay) leaves the tape free to go on."""
    core = started()
    core.connection_lost()
    [fetch] = core.connection_made(0.0)
    core.dropped(fetch)
    assert core.tapes[STREAM].inflight is None and not core.tapes[STREAM].recover


def test_requests_are_paced_and_retries_back_off() -> None:
    """At most `rate` requests per `per` seconds; retry delays double up to the cap."""
    pacer = Pacer(2, 1.0)
    assert [pacer.slot(0.0), pacer.slot(0.0), pacer.slot(0.0), pacer.slot(0.1)] == [0.0, 0.0, 1.0, 1.0]
    assert Pacer(2, 1.0).slot(5.0, earliest=7.0) == 7.0
    policy = BackfillPolicy(retry_delay=0.5, max_retry_delay=3.0)
    assert [policy.retry_in(n) for n in range(5)] == [0.0, 0.5, 1.0, 2.0, 3.0]
