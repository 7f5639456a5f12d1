"""BitfinexClient(backfill_trades=True) against the simulator: every trade of the tape exactly
once across dropped connections (from the resubscribe snapshot and the REST trade history), the
missed ones marked backfill; a refused history ends in a TradeGapError naming the time span;
recordings replay into the same trades; the trading socket of a client with keys is not
involved."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bpbfx import BitfinexClient, BpbfxError, ConfigurationError, TradeGapError
from bpbfx.backfill import BackfillPolicy
from bpbfx.bitfinex.backfiller import NO_ENDPOINT
from bpbfx.bitfinex.events import FundingTradesSnapshot, TradesSnapshot, TradeUpdate
from bpbfx.recording import Recorder as FileRecorder
from bpbfx.recording import feed_records, read_recording
from bpbfx.rest import RestClient
from bpbfx.sim.bitfinex import DEFAULT_MARKETS, BitfinexSimulator
from tests.support import FAST, Recorder, keep_out

STREAM = "trades:tBTCUSD"
QUICK = BackfillPolicy(retry_delay=0.05, rate=50)
MARKETS = [m for m in DEFAULT_MARKETS if m.symbol in ("tBTCUSD", "fUSD")]
KEY, SECRET = "backfill-key-0123456789", "backfill-secret-abcdefgh"
AWAY = 100
"""Ticks the client is kept out: more trades than a snapshot holds (30), so the history is read."""


@pytest.fixture
def sim(bitfinex_sim: Callable[..., BitfinexSimulator]) -> BitfinexSimulator:
    return bitfinex_sim(seed=5, tick_interval=None, markets=MARKETS, accounts={KEY: SECRET},
                        account_balances={KEY: {"exchange": {"USD": "1000"}}})


def tape(sim: BitfinexSimulator, since: int = 0) -> list[int]:
    """The ids of the trades the simulator printed on tBTCUSD (its own REST history, oldest
    first), from id ``since`` on."""
    rest = RestClient(sim.http_url)
    try:
        rows = rest.request("GET", "/v2/trades/tBTCUSD/hist", params={"limit": 10_000, "sort": 1}).json()
    finally:
        rest.close()
    return [row[0] for row in rows if row[0] >= since]


def history_reads(client: BitfinexClient) -> int:
    """The history requests the client's backfill thread sent."""
    reader = client._backfiller.reader if client._backfiller is not None else None
    return reader.requests if reader is not None else 0


def trades(events: Recorder) -> list[tuple[int, bool]]:
    """Every trade delivered, in delivery order, as (id, backfill): snapshot rows and ``te``."""
    out: list[tuple[int, bool]] = []
    for event in events.items:
        if isinstance(event, TradesSnapshot):
            out.extend((row.id, row.backfill) for row in event.trades)
        elif isinstance(event, TradeUpdate) and event.executed:
            out.append((event.trade.id, event.trade.backfill))
    return out


def ids(events: Recorder) -> list[int]:
    return [trade_id for trade_id, _ in trades(events)]


def first(events: Recorder) -> int:
    """The oldest trade of the first snapshot: the tape the client owes starts there."""
    return min(row.id for row in events.of(TradesSnapshot)[0].trades)


def client_for(sim: BitfinexSimulator, **kwargs: Any) -> tuple[BitfinexClient, Recorder, Recorder]:
    events, errors = Recorder(), Recorder()
    kwargs.setdefault("backfill_trades", QUICK)
    kwargs.setdefault("rest_url", sim.http_url)
    kwargs.setdefault("auth", False)
    client = BitfinexClient(sim.url, backoff=FAST, on_message=events, on_error=errors, **kwargs)
    client.subscribe(STREAM)
    return client, events, errors


def settle(sim: BitfinexSimulator, events: Recorder, steps: int = 10) -> None:
    """Step the tape and wait until the client holds every trade of it from its first one."""
    sim.step(steps)
    assert events.wait_for(lambda items: bool(items) and set(tape(sim, first(events))) <= set(ids(events)), 10)


def start(client: BitfinexClient, events: Recorder) -> None:
    assert client.wait_ready(5)
    assert events.wait_for(lambda items: any(isinstance(i, TradesSnapshot) for i in items), 5)


def printed_while_away(sim: BitfinexSimulator, steps: int) -> list[int]:
    """:func:`~tests.support.keep_out`, returning the ids printed while the client was away."""
    before = set(tape(sim))
    keep_out(sim, steps)
    return [t for t in tape(sim) if t not in before]


def test_a_dropped_connection_loses_no_trade(sim: BitfinexSimulator) -> None:
    """Trades printed while the socket was down come back after the resubscribe, from its
    snapshot and the REST history, marked backfill; with the live ones every trade of the tape
    arrives exactly once."""
    client, events, errors = client_for(sim)
    with client:
        start(client, events)
        settle(sim, events)
        missed = printed_while_away(sim, AWAY)
        assert len(missed) > 30  # more than the resubscribe snapshot holds
        assert events.wait_for(lambda items: set(missed) <= set(ids(events)), 10)
        settle(sim, events)
        everything = tape(sim, first(events))
        assert sorted(ids(events)) == everything  # each exactly once
        assert sorted(t for t, backfill in trades(events) if backfill) == sorted(missed)
        from_history = [e for e in events.of(TradeUpdate) if e.backfill]
        assert from_history and all(e.executed for e in from_history)
        assert history_reads(client) == 1
        stats = client.stats()
        assert stats.trades_backfilled == len(missed) and stats.trade_gaps == 1
    assert not errors.of(TradeGapError)


def test_a_short_outage_is_recovered_from_the_snapshot_alone(sim: BitfinexSimulator) -> None:
    """When the resubscribe snapshot reaches back to the last trade delivered, its new rows are
    the missed trades (marked backfill), its old ones are not delivered again, and nothing is
    fetched."""
    client, events, errors = client_for(sim)
    with client:
        start(client, events)
        settle(sim, events)
        missed = printed_while_away(sim, 2)
        assert 0 < len(missed) < 30
        assert events.wait_for(lambda items: len(events.of(TradesSnapshot)) == 2, 10)
        again = events.of(TradesSnapshot)[1]
        assert sorted(row.id for row in again.trades) == sorted(missed) and again.backfill
        assert len(again.data) == len(missed)
        settle(sim, events)
        assert sorted(ids(events)) == tape(sim, first(events))
        assert history_reads(client) == 0
    assert not errors.of(TradeGapError)


def test_a_refused_history_is_reported_with_the_time_span(sim: BitfinexSimulator) -> None:
    """With the trade history refused, the span between the last trade delivered and the
    resubscribe snapshot is reported once as a TradeGapError (start_ms, end_ms); the trades in
    it are missing, every other one arrives once, and the channel goes on."""
    client, events, errors = client_for(sim)
    with client:
        start(client, events)
        settle(sim, events)
        last = max(ids(events))
        sim.refuse_rest("/v2/trades/", 500)
        keep_out(sim, AWAY)
        assert errors.wait_for(lambda items: any(isinstance(i, TradeGapError) for i in items), 10)
        [gap] = errors.of(TradeGapError)
        snapshot = events.of(TradesSnapshot)[1]
        oldest = min(snapshot.trades, key=lambda r: r.id)
        last_mts = next(e.trade.mts for e in events.of(TradeUpdate) if e.trade.id == last)
        assert (gap.start_ms, gap.end_ms) == (last_mts, oldest.mts)
        assert gap.exchange == "bitfinex" and gap.stream == STREAM and gap.symbol == "tBTCUSD"
        assert "HTTP 500" in gap.reason and gap.first_id is None
        sim.refuse_rest("/v2/trades/", None)
        lost = [t for t in tape(sim) if last < t < oldest.id]
        assert lost
        sim.step(10)

        def expected() -> list[int]:
            return [t for t in tape(sim, first(events)) if t not in lost]

        assert events.wait_for(lambda items: set(expected()) <= set(ids(events)), 10)
        assert sorted(ids(events)) == expected()
        assert client.stats().trade_gaps == 1
        assert not any(e.backfill for e in events.of(TradeUpdate))


def test_without_a_rest_endpoint_the_span_is_given_up_at_once(sim: BitfinexSimulator) -> None:
    """A client on a url that is not Bitfinex's with no rest_url has no history to read: the
    span is reported at once, saying so, and nothing is requested."""
    client, events, errors = client_for(sim, rest_url=None)
    with client:
        start(client, events)
        settle(sim, events)
        keep_out(sim, AWAY)
        assert errors.wait_for(lambda items: any(isinstance(i, TradeGapError) for i in items), 10)
        [gap] = errors.of(TradeGapError)
        assert gap.reason == NO_ENDPOINT and client._backfiller is not None and client._backfiller.reader is None


def test_without_the_option_nothing_is_recovered(sim: BitfinexSimulator) -> None:
    """The default client delivers the resubscribe snapshot as it is (old rows again, nothing
    marked) and loses what the snapshot does not hold."""
    client, events, _ = client_for(sim, backfill_trades=False)
    with client:
        start(client, events)
        settle(sim, events)
        missed = printed_while_away(sim, AWAY)
        assert events.wait_for(lambda items: len(events.of(TradesSnapshot)) == 2, 10)
        sim.step(5)
        assert not set(missed) <= set(ids(events))
        assert not any(backfill for _, backfill in trades(events))
        assert client.stats().trades_backfilled == 0
    with pytest.raises(ConfigurationError, match="backfill_trades"):
        BitfinexClient(sim.url, backfill_trades="yes")  # type: ignore[arg-type]


def test_funding_trades_are_not_tracked(sim: BitfinexSimulator) -> None:
    """A funding trades channel (trades:fUSD) is delivered as it is: its resubscribe snapshot
    is not cut."""
    client, events, _ = client_for(sim)
    client.subscribe("trades:fUSD")
    with client:
        start(client, events)
        assert events.wait_for(lambda items: any(isinstance(i, FundingTradesSnapshot) for i in items), 5)
        first_rows = {row.id for row in events.of(FundingTradesSnapshot)[0].trades}
        keep_out(sim, 2)
        assert events.wait_for(lambda items: len(events.of(FundingTradesSnapshot)) == 2, 10)
        assert first_rows & {row.id for row in events.of(FundingTradesSnapshot)[1].trades}
        assert list(client._backfill.tapes) == [STREAM]  # type: ignore[union-attr]


def test_with_keys_the_public_sockets_are_backfilled(sim: BitfinexSimulator) -> None:
    """With keys the trades channel is on a public socket (the trading socket carries channel 0
    only); dropping every socket loses no trade of it."""
    client, events, errors = client_for(sim, auth=None, api_key=KEY, api_secret=SECRET)
    with client:
        start(client, events)
        assert client.connection_count == 2
        [trading] = sim.connections_of(KEY)
        assert not sim.subscriptions().get(trading)
        settle(sim, events)
        missed = printed_while_away(sim, AWAY)
        assert client.wait_ready(10)
        assert events.wait_for(lambda items: set(missed) <= set(ids(events)), 10)
        settle(sim, events)
        assert sorted(ids(events)) == tape(sim, first(events))
        assert sorted(t for t, backfill in trades(events) if backfill) == sorted(missed)
        assert client.stats().trades_backfilled == len(missed)
    assert not errors.of(TradeGapError)


def test_a_recording_replays_into_the_same_backfilled_trades(sim: BitfinexSimulator, tmp_path: Path) -> None:
    """The recorder writes each history answer the backfill delivered from as a backfill
    record; played back, the recording gives the same trades, in the same order, with the
    same backfill marks, and fetches nothing."""
    path = tmp_path / "rec.jsonl"
    recorder = FileRecorder(path, "bitfinex", [STREAM])
    client, events, _ = client_for(sim)
    recorder.attach(client)
    with client:
        start(client, events)
        settle(sim, events)
        missed = printed_while_away(sim, AWAY)
        assert events.wait_for(lambda items: set(missed) <= set(ids(events)), 10)
        settle(sim, events)
    recorder.close()
    recording = read_recording(path)
    assert recording.backfills == 1
    record = next(r for r in recording.records if r.kind == "backfill")
    assert record.fields["stream"] == STREAM and isinstance(json.loads(record.data or ""), list)
    live = trades(events)
    replayed = Recorder()
    player = BitfinexClient("ws://127.0.0.1:9", auth=False, backfill_trades=True, on_message=replayed)
    player.subscribe(STREAM)
    result = feed_records(player, recording.records)
    player.close()
    assert result.backfills == recording.backfills and result.skipped == 0
    assert trades(replayed) == live
    plain = Recorder()
    without = BitfinexClient("ws://127.0.0.1:9", auth=False, on_message=plain)
    without.subscribe(STREAM)
    assert feed_records(without, recording.records).skipped == recording.backfills
    without.close()
    assert not any(backfill for _, backfill in trades(plain))


def test_a_failure_inside_the_backfill_is_reported_and_the_request_retried(
    sim: BitfinexSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected exception while taking an answer is reported; the backfill thread survives
    and the request is made again, so no trade is lost."""
    from bpbfx.bitfinex.backfill import TradeBackfill

    real = TradeBackfill.answered
    calls: list[int] = []

    def broken(self: TradeBackfill, *args: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return real(self, *args)

    monkeypatch.setattr(TradeBackfill, "answered", broken)
    client, events, errors = client_for(sim)
    with client:
        start(client, events)
        settle(sim, events)
        missed = printed_while_away(sim, AWAY)
        assert errors.wait_for(lambda items: any("RuntimeError: boom" in str(i) for i in items), 10)
        [failure] = [e for e in errors.of(BpbfxError) if "boom" in str(e)]
        assert failure.stream == STREAM and isinstance(failure.__cause__, RuntimeError)
        assert events.wait_for(lambda items: set(missed) <= set(ids(events)), 10)
        settle(sim, events)
        assert sorted(ids(events)) == tape(sim, first(events))
    assert len(calls) == 2 and not errors.of(TradeGapError)
