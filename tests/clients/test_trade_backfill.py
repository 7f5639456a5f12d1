"""BackpackClient(backfill_trades=True) against the simulator: every trade of the tape exactly
once across dropped connections and skipped frames, the missed ones marked backfill; a refused
history ends in a TradeGapError naming the ids; recordings replay into the same trades."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bpbfx import BackpackClient, ConfigurationError, TradeGapError
from bpbfx.backfill import BackfillPolicy
from bpbfx.backpack.events import Trade
from bpbfx.recording import Recorder as FileRecorder
from bpbfx.recording import feed_records, read_recording
from bpbfx.rest import RestClient
from bpbfx.sim.backpack import BackpackSimulator
from tests.support import FAST, Recorder, holes, keep_out, trade_until

STREAM = "trade.SOL_USDC"
QUICK = BackfillPolicy(retry_delay=0.05, rate=50)


@pytest.fixture
def sim(backpack_sim: Callable[..., BackpackSimulator]) -> BackpackSimulator:
    return backpack_sim(seed=5, tick_interval=None)


def tape(sim: BackpackSimulator, since: int = 0) -> list[int]:
    """The ids of the trades the simulator printed on SOL_USDC (its own REST history), from id
    ``since`` on."""
    rest = RestClient(sim.http_url)
    try:
        rows = rest.request("GET", "/api/v1/trades/history", params={"symbol": "SOL_USDC", "limit": 1000}).json()
    finally:
        rest.close()
    return [row["id"] for row in rows if row["id"] >= since]


def first(events: Recorder) -> int:
    """The first trade the client received: the tape it owes starts there (a trade printed
    before the exchange took the subscription was never the client's)."""
    return int(events.of(Trade)[0].trade_id)


def client_for(sim: BackpackSimulator, **kwargs: Any) -> tuple[BackpackClient, Recorder, Recorder]:
    events, errors = Recorder(), Recorder()
    kwargs.setdefault("backfill_trades", QUICK)
    client = BackpackClient(sim.url, rest_url=sim.http_url, streams=[STREAM], backoff=FAST, on_message=events,
                            on_error=errors, **kwargs)
    return client, events, errors


def ids(events: Recorder) -> list[int]:
    return [e.trade_id for e in events.of(Trade)]


def assert_backfilled_the_holes(events: Recorder, missed: list[int]) -> None:
    """The trades marked backfill are exactly the holes in the live ones, and include ``missed``
    (a frame in flight when the socket went down is a hole too)."""
    backfilled = sorted(e.trade_id for e in events.of(Trade) if e.backfill)
    live = [e.trade_id for e in events.of(Trade) if not e.backfill]
    assert [t for first, last in holes(live) for t in range(first, last + 1)] == backfilled
    assert set(missed) <= set(backfilled)


def printed_while(sim: BackpackSimulator, steps: int) -> list[int]:
    """:func:`~tests.support.keep_out`, returning the ids printed while the client was away."""
    before = set(tape(sim))
    keep_out(sim, steps)
    return [t for t in tape(sim) if t not in before]


def test_a_dropped_connection_loses_no_trade(sim: BackpackSimulator) -> None:
    """Trades printed while the socket was down come back at once after the reconnect (no new
    trade needed), marked backfill; with the live ones every trade of the tape arrives once."""
    client, events, errors = client_for(sim)
    with client:
        assert client.wait_ready(5)
        trade_until(sim, events, 5)
        missed = printed_while(sim, 40)
        assert len(missed) >= 5
        assert events.wait_for(lambda items: set(missed) <= {i.trade_id for i in items if isinstance(i, Trade)}, 10)
        trade_until(sim, events, 5)
        everything = tape(sim, first(events))
        assert events.wait_for(lambda items: len([i for i in items if isinstance(i, Trade)]) >= len(everything), 5)
        assert sorted(ids(events)) == everything  # each exactly once
        assert_backfilled_the_holes(events, missed)
        stats = client.stats()
        assert stats.trades_backfilled == sum(e.backfill for e in events.of(Trade)) and stats.trade_gaps == 1
    assert not errors.of(TradeGapError)


def test_frames_lost_on_a_live_socket_are_fetched_when_the_ids_jump(sim: BackpackSimulator) -> None:
    """Trades the socket never delivered (a dead link) are found by the jump in the ids and
    fetched from the history while the stream goes on."""
    client, events, errors = client_for(sim)
    with client:
        assert client.wait_ready(5)
        trade_until(sim, events, 3)
        [conn] = list(sim.connections)
        before = set(tape(sim))
        sim.silence_connection(conn)
        sim.step(30)
        sim.silence_connection(conn, False)
        lost = [t for t in tape(sim) if t not in before]
        assert lost
        trade_until(sim, events, 3 + len(lost))
        everything = tape(sim, first(events))
        assert events.wait_for(lambda items: len([i for i in items if isinstance(i, Trade)]) >= len(everything), 5)
        assert sorted(ids(events)) == everything
        assert_backfilled_the_holes(events, lost)
    assert not errors.of(TradeGapError)


def test_a_refused_history_is_reported_with_the_missing_ids(sim: BackpackSimulator) -> None:
    """With the trade history refused, the hole is reported once as a TradeGapError naming the
    first and last missing id, and the stream goes on after it."""
    client, events, errors = client_for(sim)
    with client:
        assert client.wait_ready(5)
        trade_until(sim, events, 3)
        sim.fail_trade_history(None, 503)
        keep_out(sim, 30)
        trade_until(sim, events, 3)
        assert errors.wait_for(lambda items: any(isinstance(i, TradeGapError) for i in items), 10)
        [gap] = errors.of(TradeGapError)
        # Backpack trade ids are sequential: the one hole in what arrived is what printed meanwhile.
        [(start, end)] = holes(ids(events))
        missed = list(range(start, end + 1))
        assert len(missed) >= 5
        assert (gap.first_id, gap.last_id) == (missed[0], missed[-1]) and gap.missing == len(missed)
        assert gap.stream == STREAM and gap.symbol == "SOL_USDC" and "HTTP 503" in gap.reason
        assert not any(e.backfill for e in events.of(Trade))
        sim.fail_trade_history(0)
        trade_until(sim, events, 3)
        assert sorted(ids(events)) == [t for t in tape(sim, first(events)) if t not in missed]
        assert client.stats().trade_gaps == 1


def test_without_the_option_nothing_is_fetched(sim: BackpackSimulator) -> None:
    """The default client loses what printed while it was away and fetches nothing."""
    client, events, _ = client_for(sim, backfill_trades=False)
    with client:
        assert client.wait_ready(5)
        trade_until(sim, events, 3)
        missed = printed_while(sim, 30)
        trade_until(sim, events, 3)
        assert not set(missed) & set(ids(events))
        assert client.stats().trades_backfilled == 0
    with pytest.raises(ConfigurationError, match="backfill_trades"):
        BackpackClient(sim.url, backfill_trades="yes")  # type: ignore[arg-type]


def test_a_recording_replays_into_the_same_backfilled_trades(sim: BackpackSimulator, tmp_path: Path) -> None:
    """The recorder writes each answer a backfill delivered from as a backfill record; played
    back, the recording gives the same trades with the same backfill marks."""
    path = tmp_path / "rec.jsonl"
    recorder = FileRecorder(path, "backpack", [STREAM])
    client, events, _ = client_for(sim)
    recorder.attach(client)
    with client:
        assert client.wait_ready(5)
        trade_until(sim, events, 3)
        missed = printed_while(sim, 30)
        assert events.wait_for(lambda items: set(missed) <= {i.trade_id for i in items if isinstance(i, Trade)}, 10)
        trade_until(sim, events, 3)
    recorder.close()
    recording = read_recording(path)
    assert recording.backfills >= 1
    record = next(r for r in recording.records if r.kind == "backfill")
    assert record.fields["stream"] == STREAM and isinstance(json.loads(record.data or ""), list)
    live = [(e.trade_id, e.backfill) for e in events.of(Trade)]
    replayed = Recorder()
    player = BackpackClient("ws://127.0.0.1:9", streams=[STREAM], backfill_trades=True, on_message=replayed)
    result = feed_records(player, recording.records)
    player.close()
    assert result.backfills == recording.backfills and result.skipped == 0
    assert [(e.trade_id, e.backfill) for e in replayed.of(Trade)] == live
    plain = Recorder()
    without = BackpackClient("ws://127.0.0.1:9", streams=[STREAM], on_message=plain)
    assert feed_records(without, recording.records).skipped == recording.backfills
    without.close()
    assert not any(e.backfill for e in plain.of(Trade))


def test_a_failure_inside_the_backfill_is_reported_and_the_rest_thread_goes_on(
    sim: BackpackSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected exception while handling a page is reported; the REST thread survives and
    the hole is fetched again at the stream's next trade."""
    from bpbfx import BpbfxError
    from bpbfx.backpack.backfill import TradeBackfill

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
        assert client.wait_ready(5)
        trade_until(sim, events, 3)
        missed = printed_while(sim, 30)
        assert errors.wait_for(lambda items: any("RuntimeError: boom" in str(i) for i in items), 10)
        [failure] = [e for e in errors.of(BpbfxError) if "boom" in str(e)]
        assert failure.stream == STREAM and isinstance(failure.__cause__, RuntimeError)
        trade_until(sim, events, 3)
        assert events.wait_for(lambda items: set(missed) <= {i.trade_id for i in items if isinstance(i, Trade)}, 10)
        everything = tape(sim, first(events))
        assert events.wait_for(lambda items: len([i for i in items if isinstance(i, Trade)]) >= len(everything), 5)
        assert sorted(ids(events)) == everything
