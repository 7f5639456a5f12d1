"""Bitfinex trade backfill core: resubscribe snapshots filtered to what was never delivered,
the history request when a snapshot does not reach back, and giving up with the time span."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from bpbfx import TradeGapError
from bpbfx.backfill import BackfillPolicy
from bpbfx.bitfinex.backfill import HIST_LIMIT, FetchHistory, TradeBackfill, parse_history
from bpbfx.bitfinex.events import TradeEntry, TradesSnapshot, TradeUpdate
from bpbfx.unified.convert import Converter

STREAM = "trades:tBTCUSD"


def entry(trade_id: int) -> TradeEntry:
    return TradeEntry(id=trade_id, mts=trade_id * 10, amount=Decimal("-0.5"), price=Decimal("100"))


def te(trade_id: int, kind: str = "executed") -> TradeUpdate:
    return TradeUpdate(stream=STREAM, symbol="tBTCUSD", data=[trade_id, trade_id * 10, "-0.5", "100"],
                       trade=entry(trade_id), kind=kind)  # type: ignore[arg-type]


def snapshot(ids: list[int]) -> TradesSnapshot:
    """A snapshot as the server sends it: newest first."""
    ordered = sorted(ids, reverse=True)
    return TradesSnapshot(stream=STREAM, symbol="tBTCUSD", data=[[i, i * 10, "-0.5", "100"] for i in ordered],
                          trades=tuple(entry(i) for i in ordered))


def history(ids: list[int]) -> str:
    return json.dumps([[i, i * 10, -0.5, 100.25] for i in sorted(ids)])


def started(ids: list[int]) -> TradeBackfill:
    core = TradeBackfill()
    core.add(STREAM, "tBTCUSD")
    first = core.snapshot(snapshot(ids[:3]), 0.0)
    assert first.event is not None and first.fetch is None
    for i in ids[3:]:
        assert core.live(te(i))
    return core


def test_the_first_snapshot_is_delivered_as_it_is() -> None:
    """The snapshot of the first subscription is history from before the client: unchanged,
    not backfill, nothing fetched."""
    core = TradeBackfill()
    core.add(STREAM, "tBTCUSD")
    event = snapshot([1, 3, 5])
    out = core.snapshot(event, 0.0)
    assert out.event is event and out.fetch is None and core.backfilled == 0
    assert (core.tapes[STREAM].last_id, core.tapes[STREAM].last_mts) == (5, 50)


def test_a_resubscribe_snapshot_keeps_only_the_trades_never_delivered() -> None:
    """Rows already delivered (id <= the last one) are removed from the snapshot and its data;
    the rest are marked backfill; the snapshot reaches back, so nothing is fetched."""
    core = started([1, 3, 5, 8, 9])
    out = core.snapshot(snapshot([5, 8, 9, 12, 15]), 1.0)
    assert out.fetch is None and out.event is not None
    assert [r.id for r in out.event.trades] == [15, 12] and all(r.backfill for r in out.event.trades)
    assert out.event.data == [[15, 150, "-0.5", "100"], [12, 120, "-0.5", "100"]]
    assert out.event.snapshot
    assert (core.backfilled, core.gaps) == (2, 1)
    assert not core.live(te(12))  # a te repeating a snapshot row is dropped
    assert core.live(te(16)) and core.live(te(16, "update"))


def test_a_snapshot_that_does_not_reach_back_asks_for_the_span_in_between() -> None:
    """Last delivered 9 (mts 90); the snapshot starts at 40 (mts 400): history from 90 to 400,
    limit 10000, oldest first; the answer's rows strictly between the two ids are delivered."""
    core = started([1, 3, 5, 8, 9])
    out = core.snapshot(snapshot([40, 41, 42]), 2.0)
    fetch = out.fetch
    assert fetch is not None and out.event is not None and len(out.event.trades) == 3
    assert fetch.path == "/v2/trades/tBTCUSD/hist"
    assert fetch.params == {"start": "90", "end": "400", "limit": "10000", "sort": "1"}
    answer = core.answered(fetch, history([9, 11, 20, 33, 40]), 2.1)
    assert [e.trade.id for e in answer.events] == [11, 20, 33]
    event = answer.events[0]
    assert event.kind == "executed" and event.backfill and event.trade.backfill
    assert event.trade.price == Decimal("100.25") and event.data == [11, 110, "-0.5", "100.25"]
    assert not answer.errors and (core.backfilled, core.gaps) == (6, 1)
    assert core.answered(fetch, history([12]), 2.2).events == []  # answered once only


def test_a_full_answer_that_still_does_not_reach_is_reported_with_the_span() -> None:
    """10,000 rows that end before the snapshot: delivered, and the rest of the span reported."""
    core = started([1, 3, 5])
    out = core.snapshot(snapshot([50_000, 50_001, 50_002]), 0.0)
    assert out.fetch is not None
    answer = core.answered(out.fetch, history(list(range(6, 6 + HIST_LIMIT))), 0.0)
    assert len(answer.events) == HIST_LIMIT
    [error] = answer.errors
    assert isinstance(error, TradeGapError)
    assert (error.start_ms, error.end_ms) == ((5 + HIST_LIMIT) * 10, 500_000)
    assert error.first_id is None and error.exchange == "bitfinex" and "full" in error.reason


def test_refused_requests_are_retried_then_the_span_is_given_up() -> None:
    """A refusal repeats the same request after a growing delay; after the policy's attempts the
    span is reported."""
    core = TradeBackfill(BackfillPolicy(attempts=2, retry_delay=0.25))
    core.add(STREAM, "tBTCUSD")
    core.snapshot(snapshot([1, 2, 3]), 0.0)
    out = core.snapshot(snapshot([10, 11, 12]), 0.0)
    assert out.fetch is not None
    again = core.failed(out.fetch, "HTTP 429", 0.0)
    assert again.fetch is not None and again.fetch.delay == pytest.approx(0.25)
    assert again.fetch.params == out.fetch.params
    final = core.failed(again.fetch, "HTTP 429", 1.0)
    assert final.fetch is None
    [error] = final.errors
    assert (error.start_ms, error.end_ms, error.reason) == (30, 100, "HTTP 429")
    assert "from 30 to 100" in str(error)


def test_an_unreadable_answer_is_a_failure() -> None:
    """Text that is not a list of trade rows counts as a failed request."""
    core = started([1, 2, 3])
    out = core.snapshot(snapshot([10, 11, 12]), 0.0)
    assert out.fetch is not None
    again = core.answered(out.fetch, '{"error": "ERR_RATE_LIMIT"}', 0.0)
    assert again.fetch is not None and not again.events
    with pytest.raises(ValueError, match="not a trade row"):
        parse_history('[[1, 2, "x"]]')


def test_a_recorded_answer_answers_the_pending_request() -> None:
    """In a replay the request stays pending; the recorded answer is taken as its answer."""
    core = started([1, 2, 3])
    core.snapshot(snapshot([10, 11, 12]), 0.0)
    out = core.replayed(STREAM, history([3, 5, 7, 10]), 0.0)
    assert [e.trade.id for e in out.events] == [5, 7]
    assert core.replayed(STREAM, history([4]), 0.0).events == []
    assert core.replayed("trades:tETHUSD", history([4]), 0.0).events == []


def test_channels_not_tracked_pass_through() -> None:
    """Events of a channel the core does not track are left alone."""
    core = TradeBackfill()
    event = snapshot([1])
    assert core.snapshot(event, 0.0).event is event and core.live(te(1))
    stray = FetchHistory(STREAM, "tBTCUSD", 0, 1, 0, 1, 0.0)
    assert core.answered(stray, "[]", 0.0).events == [] and core.failed(stray, "x", 0.0).errors == []


def test_the_unified_trade_copies_the_flag() -> None:
    """Backfilled Bitfinex trades (history or snapshot rows) become unified trades with
    backfill=True; live ones keep False."""
    core = started([1, 2, 3])
    out = core.snapshot(snapshot([10, 11, 12]), 0.0)
    assert out.event is not None and out.fetch is not None
    converter = Converter("bitfinex")
    [converted] = converter.convert(core.answered(out.fetch, history([5]), 0.0).events[0])
    assert converted.backfill and not converted.snapshot  # type: ignore[attr-defined]
    rows = converter.convert(out.event)
    assert [t.backfill for t in rows] == [True, True, True]  # type: ignore[attr-defined]
    [live] = converter.convert(te(20))
    assert not live.backfill  # type: ignore[attr-defined]


def test_a_te_repeating_a_row_of_the_first_snapshot_is_dropped() -> None:
    """The first snapshot's rows count as delivered: a ``te`` of one of them is not delivered
    again; newer trades are."""
    core = TradeBackfill()
    core.add(STREAM, "tBTCUSD")
    core.snapshot(snapshot([1, 3, 5]), 0.0)
    assert not core.live(te(3)) and not core.live(te(5))
    assert core.live(te(6))


def test_a_request_that_cannot_be_made_is_given_up_at_once() -> None:
    """``failed(retry=False)`` reports the whole span at once, with no retry."""
    core = started([1, 2, 3])
    out = core.snapshot(snapshot([10, 11, 12]), 0.0)
    assert out.fetch is not None
    final = core.failed(out.fetch, "no REST endpoint", 0.0, retry=False)
    assert final.fetch is None and not core.tapes[STREAM].pending
    [error] = final.errors
    assert (error.start_ms, error.end_ms, error.reason) == (30, 100, "no REST endpoint")


def test_a_recorded_answer_answers_the_request_whose_span_it_covers() -> None:
    """With two requests pending on one channel (two resubscribes), a recorded answer goes to
    the one its trades fall in, whichever is older."""
    core = started([1, 2, 3])
    core.snapshot(snapshot([10, 11, 12]), 0.0)  # pending: 3 < id < 10
    core.snapshot(snapshot([40, 41, 42]), 0.0)  # pending: 12 < id < 40
    later = core.replayed(STREAM, history([12, 20, 30, 40]), 0.0)
    assert [e.trade.id for e in later.events] == [20, 30]
    earlier = core.replayed(STREAM, history([5, 7]), 0.0)
    assert [e.trade.id for e in earlier.events] == [5, 7]
    assert not core.tapes[STREAM].pending
