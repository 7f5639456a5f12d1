"""One measured run of the tick-to-order benchmark server: what is asked (:class:`RunSpec`), the
pacing of the background and the triggers, the matching of orders to triggers, and what was
measured (:class:`RunResult`).

Used on the server's one thread (:mod:`bpbfx.bench.latency_server`); no I/O of its own but the
writes it asks of its session.  Times are ``time.perf_counter_ns()`` readings of that thread:
a trigger is stamped just before its write, an order when the loop woke up with its bytes.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .latency_sessions import WsSession

__all__ = ["Run", "RunResult", "RunSpec"]

_GRACE_NS = 2 * 10**9  # how long the last trigger's order may take before the run ends
_BEHIND_NS = 100 * 10**6  # background further behind than this is dropped, not burst


@dataclass(frozen=True)
class RunSpec:
    """One measured run: ``venue`` (``"bitfinex"``/``"backpack"``), background ``rate`` (msg/s,
    0: none), ``warmup`` + ``triggers`` trigger trades (the first ``warmup`` are not counted)
    spaced uniformly within ``spacing`` seconds (seeded by ``seed``), and the Bitfinex key the
    auth request is checked with."""

    venue: str
    rate: float
    triggers: int
    warmup: int
    spacing: tuple[float, float]
    seed: int
    api_key: str = ""
    api_secret: str = ""


@dataclass
class RunResult:
    """What the server measured: latencies in ns to the first and the last byte of each
    counted order, triggers left unanswered, orders that matched no trigger, background frames
    sent and over how long, and the signature check."""

    first_byte: list[int] = field(default_factory=list)
    last_byte: list[int] = field(default_factory=list)
    missing: int = 0
    unmatched: int = 0
    background: int = 0
    seconds: float = 0.0
    signature: str = "not checked"
    error: str | None = None


class Run:
    """The measurement in progress: background pacing, the triggers and their orders."""

    def __init__(self, spec: RunSpec) -> None:
        self.spec = spec
        self.session: WsSession | None = None
        self.others: list[WsSession] = []  # the bot's other sockets (a Bitfinex trading socket)
        self.result = RunResult()
        self._rng = random.Random(spec.seed)
        self._interval = int(1e9 / spec.rate) if spec.rate > 0 else 0
        self._next_bg = 0
        self._bg_started = 0
        self._go = False
        self._next_trigger = 0
        self._k = 0  # triggers sent
        self._total = spec.warmup + spec.triggers
        self._sent: dict[int, int] = {}  # trigger number (mod span) -> stamp
        self._answered: set[int] = set()
        self._last_sent = 0
        self._checked = False
        self.finished = False

    def attach(self, session: WsSession) -> None:
        """The run's market-data WebSocket session (the one the triggers go to) is known."""
        self.session = session
        if session in self.others:
            self.others.remove(session)

    def join(self, session: WsSession) -> None:
        """Another WebSocket session of the bot under test opened (it may carry its orders:
        bpbfx trades on a Bitfinex socket of its own); it gets its heartbeats."""
        if session is not self.session:
            self.others.append(session)

    def streaming(self, now: int) -> None:
        """The session's client has subscribed: background data starts."""
        if self._bg_started == 0:
            self._bg_started = now
            self._next_bg = now

    def go(self, now: int) -> None:
        """The client is ready: triggers start after one spacing."""
        self._go = True
        self._next_trigger = now + self._gap()

    def _gap(self) -> int:
        lo, hi = self.spec.spacing
        return int(self._rng.uniform(lo, hi) * 1e9)

    def due(self) -> int | None:
        """The next time something must be sent (perf_counter ns), or ``None``."""
        times = []
        session = self.session
        if session is not None and self._bg_started:
            if self._interval:
                times.append(self._next_bg)
            times.append(session.next_heartbeat())
            times.extend(other.next_heartbeat() for other in self.others)
            if self._go and self._k < self._total:
                times.append(self._next_trigger)
        if self._k >= self._total and not self.finished:
            times.append(self._last_sent + _GRACE_NS)
        return min(times) if times else None

    def tick(self, now: int) -> None:
        """Send what is due (trigger first, then the background) and end the run when over."""
        session = self.session
        if session is None or self.finished or not self._bg_started:
            return
        if self._go and self._k < self._total and now >= self._next_trigger:
            k = self._k
            frame = session.trigger(k)
            stamp = time.perf_counter_ns()
            session.write(frame)
            self._sent[k % 10_000] = stamp
            self._k = k + 1
            self._last_sent = stamp
            self._next_trigger = stamp + self._gap()
        if self._interval:
            if now - self._next_bg > _BEHIND_NS:
                self._next_bg = now
            while self._next_bg <= now:
                session.write(session.background(self.result.background))
                self.result.background += 1
                self._next_bg += self._interval
        session.heartbeats(now)
        for other in self.others:
            other.heartbeats(now)
        if self._k >= self._total and (
            len(self._answered) >= self._total or now - self._last_sent >= _GRACE_NS
        ):
            self.finish()

    def order(self, k: int | None, first: int, last: int, check: Any = None) -> None:
        """An order arrived (``k``: the trigger its price names); ``check`` verifies the
        first order's signature (returns a problem text or ``None``)."""
        sent = self._sent.get(k) if k is not None else None
        if k is None or sent is None or k in self._answered:
            self.result.unmatched += 1
            return
        self._answered.add(k)
        if k >= self.spec.warmup:
            self.result.first_byte.append(first - sent)
            self.result.last_byte.append(last - sent)
        if check is not None and not self._checked:
            self._checked = True
            problem = check()
            self.result.signature = "verified" if problem is None else problem

    def finish(self, error: str | None = None) -> None:
        """End the run (at most once)."""
        if self.finished:
            return
        self.finished = True
        r = self.result
        r.missing = self._total - len(self._answered)
        r.seconds = (time.perf_counter_ns() - self._bg_started) / 1e9 if self._bg_started else 0.0
        if error is not None:
            r.error = error
