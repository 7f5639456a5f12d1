"""Transport pieces: the connection-rate limiter, teardown of an idle connection, attempt numbering, quiet drops."""

from __future__ import annotations

import logging
import threading
from typing import Any

from bpbfx import Backoff
from bpbfx.transport import Connection, RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_allows_limit_per_period() -> None:
    """At most `limit` connects per sliding period; the wait until the next slot is reported."""
    clock = FakeClock()
    limiter = RateLimiter(20, 60.0, clock=clock)
    assert [limiter.reserve() for _ in range(20)] == [0.0] * 20
    assert limiter.reserve() == 60.0
    clock.now += 30
    assert limiter.reserve() == 30.0
    clock.now += 30.001
    assert limiter.reserve() == 0.0


def test_rate_limiter_counts_a_slow_handshake_from_its_end() -> None:
    """The exchange counts a connection when it accepts it: a slot settled when the handshake
    ended counts from then, so the next attempt waits a whole period after it."""
    clock = FakeClock()
    limiter = RateLimiter(1, 60.0, clock=clock)
    stamp = limiter.acquire_slot(threading.Event())
    assert stamp == 1000.0
    clock.now += 5  # a five-second handshake
    limiter.settle(stamp)
    clock.now += 55
    assert limiter.reserve() == 5.0  # 60 s after the handshake ended, not after it began
    clock.now += 5.001
    assert limiter.reserve() == 0.0
    limiter.settle(stamp)  # a slot already out of the window: nothing to do


def test_rate_limiter_acquire_stops_when_asked() -> None:
    """A blocked acquire() returns False as soon as the stop event is set."""
    limiter = RateLimiter(1, 3600.0)
    stop = threading.Event()
    assert limiter.acquire(stop)
    result: list[bool] = []
    waiter = threading.Thread(target=lambda: result.append(limiter.acquire(stop)))
    waiter.start()
    stop.set()
    waiter.join(5)
    assert result == [False]


class Quiet:
    """A listener that ignores everything."""

    def on_connection_open(self, conn: Connection) -> None: ...
    def on_connection_frame(self, conn: Connection, data: bytes) -> None: ...
    def on_connection_ping(self, conn: Connection, payload: bytes) -> None: ...
    def on_connection_closed(self, conn: Connection, error: object) -> None: ...
    def on_connection_retry(self, conn: Connection, attempt: int, delay: float) -> None: ...
    def on_timer(self, conn: Connection, now: float) -> None: ...


def test_close_while_waiting_for_a_connect_slot() -> None:
    """close() ends a connection whose reader waits on the rate limiter, leaving no thread."""
    limiter = RateLimiter(1, 3600.0)
    assert limiter.reserve() == 0.0  # the only slot is taken
    conn = Connection("ws://127.0.0.1:9", Quiet(), name="ratelimited", rate_limiter=limiter)  # type: ignore[arg-type]
    conn.start()
    conn.close(timeout=5)
    assert not [t for t in threading.enumerate() if t.name.startswith("ratelimited")]
    assert conn.state == "closed" and conn.send("x") is False


class Closes(Quiet):
    """Records how connections ended."""

    def __init__(self) -> None:
        self.errors: list[object] = []
        self.event = threading.Event()

    def on_connection_closed(self, conn: Connection, error: object) -> None:
        self.errors.append(error)
        self.event.set()


def test_unanswered_tcp_connect_times_out(syn_blackhole: int) -> None:
    """A connect whose SYN is never answered fails after connect_timeout instead of hanging."""
    import time

    listener = Closes()
    conn = Connection(f"ws://127.0.0.1:{syn_blackhole}", listener, name="synblackhole", connect_timeout=0.5)  # type: ignore[arg-type]
    started = time.monotonic()
    conn.start()
    try:
        assert listener.event.wait(10)
        assert time.monotonic() - started < 5
        assert "could not connect" in str(listener.errors[0]) and "0.5s" in str(listener.errors[0])
    finally:
        conn.close(timeout=5)


class Lifecycle(Quiet):
    """Records opens and the attempt numbers of reconnects."""

    def __init__(self) -> None:
        self.opens = 0
        self.attempts: list[int] = []
        self.cond = threading.Condition()

    def on_connection_open(self, conn: Connection) -> None:
        with self.cond:
            self.opens += 1
            self.cond.notify_all()

    def on_connection_retry(self, conn: Connection, attempt: int, delay: float) -> None:
        with self.cond:
            self.attempts.append(attempt)

    def wait_opens(self, n: int) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: self.opens >= n, 10)


def test_attempt_numbers_restart_after_a_connection_opened(backpack_sim: Any, caplog: Any) -> None:
    """After a reconnect that succeeded, the next drop is reported as attempt 1 again (the backoff
    still grows for short-lived connections), and neither drops nor close() log at WARNING."""
    sim = backpack_sim(tick_interval=None)
    listener = Lifecycle()
    backoff = Backoff(initial=0.01, factor=2.0, cap=0.05, jitter=0.0, reset_after=60.0)
    conn = Connection(sim.url, listener, name="attempts", backoff=backoff)  # type: ignore[arg-type]
    caplog.set_level(logging.INFO)
    conn.start()
    try:
        assert listener.wait_opens(1)
        sim.drop_connections()
        assert listener.wait_opens(2)
        sim.drop_connections()
        assert listener.wait_opens(3)
    finally:
        conn.close(timeout=5)
    assert listener.attempts == [1, 1]
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
