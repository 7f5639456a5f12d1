"""The Backpack simulator: :class:`BackpackSimulator` wires the markets, subscriptions,
accounts, order engine, REST endpoints and fault bookkeeping to the shared server, and holds
the public controls.  The protocol it speaks is described in :mod:`bpbfx.sim.backpack`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from http import HTTPStatus
from typing import Any

from bpbfx.sim._exchange import Cadences, check_options, check_symbols, lookup_market, pick_seed
from bpbfx.sim._http import HttpReply, HttpRequest
from bpbfx.sim._server import Outbox, SimConnection, SimServer
from bpbfx.sim.backpack.accounts import Accounts
from bpbfx.sim.backpack.auth import verify_signature
from bpbfx.sim.backpack.engine import OrderEngine
from bpbfx.sim.backpack.events import AccountEvents
from bpbfx.sim.backpack.faults import Faults, MarketFaults
from bpbfx.sim.backpack.feeds import PERIODS, MarketFeeds
from bpbfx.sim.backpack.ledger import Ledger
from bpbfx.sim.backpack.market import DEFAULT_MARKETS, BookState, MarketSpec, _Market
from bpbfx.sim.backpack.rest import Rest
from bpbfx.sim.backpack.subscriptions import Subscriptions, _Client
from bpbfx.sim.backpack.trading import PATHS, TradingApi
from bpbfx.sim.backpack.trading_controls import TradingControls
from bpbfx.sim.backpack.wire import DEPTH_WINDOWS, ERR_PARSE, Stamper

__all__ = ["BackpackSimulator"]


class BackpackSimulator(TradingControls, SimServer):
    """A Backpack Exchange WebSocket + REST server on 127.0.0.1 (see :mod:`bpbfx.sim.backpack`).

    Args:
        host: interface to bind (loopback).
        port: TCP port, 0 for any free port (read back :attr:`port` / :attr:`url`).
        tick_interval: seconds between market ticks; ``None`` to advance only with :meth:`step`.
        ping_interval: seconds between protocol pings; default 60, as the exchange does
            (Backpack pings every 60 s and closes a socket with no Pong within 120 s); ``None``
            for none.
        seed: makes books, trades and account events reproducible; ``None`` picks one (kept in
            :attr:`seed`).
        markets: symbols (built-in or generic specs, see :meth:`MarketSpec.for_symbol`) or
            :class:`MarketSpec` values.
        accounts: verifying keys (base64) accepted for private streams and signed REST
            requests; ``None`` accepts any key whose signature verifies.
        account_balances: verifying key -> ``{asset: amount}``: trading accounts that start with
            exactly these balances and get no invented stream activity.  A key that trades
            without being listed starts with 1,000,000 of each quote asset and 1,000 of each
            spot base asset.
        time_scale: multiplies every exchange cadence (1.0 = real time, 0.01 = a "second"
            lasts 10 ms); a cadence is never shorter than one tick.
        clock: wall clock in seconds (``time.time``) for timestamps and signature windows.
        clock_offset: seconds added to ``clock`` (the exchange's clock running ahead of, or
            behind, the client's): event times, ``/api/v1/time`` and signature windows.
        history_ticks: how many past book states are kept (stale snapshots, :meth:`book`).
        max_queued_frames: a client this many frames behind is closed with code 1008.
        string_times_every: if N > 0, every Nth data frame stamped (public and account events)
            writes ``E``/``T`` as strings (seen on the wire); 0 never.
        trade_history: public trades kept per market for ``/api/v1/trades(/history)``.
        rate_limit: ``(requests, seconds)``: at most that many signed REST requests per account
            in any window of that many seconds, then 429 (``None``: no limit).

    Raises:
        ValueError: an argument is out of range or a market is listed twice.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tick_interval: float | None = 0.05,
        ping_interval: float | None = 60.0,
        seed: int | None = None,
        markets: Sequence[str | MarketSpec] = DEFAULT_MARKETS,
        accounts: Iterable[str] | None = None,
        time_scale: float = 1.0,
        clock: Callable[[], float] = time.time,
        history_ticks: int = 256,
        max_queued_frames: int = 100_000,
        string_times_every: int = 0,
        account_balances: Mapping[str, Mapping[str, str | Decimal]] | None = None,
        clock_offset: float = 0.0,
        trade_history: int = 20_000,
        rate_limit: tuple[int, float] | None = (2000, 60.0),
    ) -> None:
        super().__init__(host=host, port=port, tick_interval=tick_interval, ping_interval=ping_interval)
        check_options(tick_interval, time_scale, max_queued_frames)
        if history_ticks < 2:
            raise ValueError(f"history_ticks must be >= 2, got {history_ticks!r}")
        if string_times_every < 0:
            raise ValueError(f"string_times_every must be >= 0, got {string_times_every!r}")
        if trade_history < 1:
            raise ValueError(f"trade_history must be >= 1, got {trade_history!r}")
        if rate_limit is not None and (rate_limit[0] < 1 or rate_limit[1] <= 0):
            raise ValueError(f"rate_limit must be (requests >= 1, seconds > 0) or None, got {rate_limit!r}")
        specs = [m if isinstance(m, MarketSpec) else MarketSpec.for_symbol(m) for m in markets]
        check_symbols(s.symbol for s in specs)
        self.seed: int = pick_seed(seed)
        self.time_scale = time_scale
        self._cadences = Cadences(PERIODS, tick_interval)
        self._accounts_allowed = frozenset(accounts) if accounts is not None else None
        self._max_queued = max_queued_frames
        self._counters: dict[str, int] = {
            "ticks": 0,
            "depth_deltas": 0,
            "rest_depth_requests": 0,
            "signatures_verified": 0,
            "signatures_rejected": 0,
            "errors_sent": 0,
            "frames_queued": 0,
            "slow_consumers": 0,
            "orders_accepted": 0,
            "orders_refused": 0,
            "fills": 0,
            "auth_refused": 0,
            "rate_limited": 0,
            "orders_refused_by_fault": 0,
            "replies_dropped": 0,
            "replies_failed": 0,
            "cancels_202": 0,
            "account_events_delayed": 0,
            "account_events_lost": 0,
        }
        self._windows = {w: self.cadence_ticks(f"depth.{w}") for w in DEPTH_WINDOWS}
        self._history_ticks = history_ticks
        self._trade_history = trade_history
        self._markets: dict[str, _Market] = {s.symbol: self._new_market(s) for s in specs}
        self._clock = clock
        self._clock_offset = float(clock_offset)
        self._stamp = Stamper(self._now, string_times_every)
        self._faults = Faults(self._markets)
        self._subs = Subscriptions(self._counters)
        self._accounts = Accounts(self.seed, self._markets, self._subs, self._stamp)
        self._feeds = MarketFeeds(
            self._markets, self._subs, self._faults, self._stamp, self.cadence_ticks,
            random.Random(f"{self.seed}:global"), self._counters,
        )
        self._rest = Rest(self._markets, self._subs, self._faults, self._stamp, self._counters)
        self._ledger = Ledger()
        self._events = AccountEvents(self._subs, self.later, self._counters)
        self._accounts.trading_emit = self._events.emit
        self._engine = OrderEngine(
            self._markets, self._ledger, self._accounts, self._events, self._stamp, self._feeds.publish,
            self.seed, self._counters,
        )
        self._feeds.matcher = self._engine.match_resting
        balances = {k: {a: Decimal(v) for a, v in b.items()} for k, b in (account_balances or {}).items()}
        self._trading = TradingApi(
            self._engine, self._markets, self._faults, self._ledger, self._accounts, balances,
            self._accounts_allowed, rate_limit, self.later, self._counters,
        )

    def _new_market(self, spec: MarketSpec) -> _Market:
        return _Market(spec, self.seed, self._windows, self._history_ticks, self._trade_history)

    def _now(self) -> float:
        """The simulator's clock: ``clock`` plus ``clock_offset``, in seconds."""
        return self._clock() + self._clock_offset

    # ------------------------------------------------------------------ helpers
    def cadence_ticks(self, name: str) -> int:
        """Ticks between two events of cadence ``name`` (``"depth.200ms"``, ``"depth.600ms"``,
        ``"depth.1000ms"``, ``"ticker"``, ``"markPrice"``, ``"kline"``, ``"openInterest"``,
        ``"liquidation"``, ``"account"``), after ``time_scale``; any thread.

        Raises:
            ValueError: unknown cadence name.
        """
        return self._cadences.ticks(name, self.time_scale)

    @property
    def markets(self) -> tuple[str, ...]:
        """The simulated symbols."""
        return tuple(self._markets)

    def _market(self, symbol: str) -> _Market:
        return lookup_market(self._markets, symbol)

    def _market_faults(self, symbol: str) -> MarketFaults:
        return self._faults.of(self._market(symbol).symbol)

    # ------------------------------------------------------------------ server hooks (loop thread)
    async def on_connect(self, conn: SimConnection) -> None:
        """Register the client and start its writer task (loop thread)."""
        client = _Client(conn, Outbox(conn, self._max_queued, self._counters))
        with self._lock:
            self._subs.add(client)
        client.outbox.start()

    async def on_disconnect(self, conn: SimConnection) -> None:
        """Forget the client's subscriptions and stop its writer (loop thread)."""
        with self._lock:
            client = self._subs.remove(conn.id)
        if client is not None:
            client.outbox.stop()

    async def on_message(self, conn: SimConnection, message: str | bytes) -> None:
        """Handle SUBSCRIBE / UNSUBSCRIBE (loop thread); bad frames get an error frame."""
        received = self.receive_json(conn, message)
        with self._lock:
            if received is None:
                self._subs.send_error(conn.id, ERR_PARSE)  # Backpack: not JSON -> 4002, socket stays open
                return
            self._subscribe(conn.id, received[1])
        self.notify()

    def _subscribe(self, cid: int, frame: Any) -> None:
        key, added = self._subs.handle(cid, frame, self._verify)
        now_us = self._stamp.now_us()
        for st, new in added:
            if st.kind == "kline" and st.symbol in self._markets and st.interval is not None:
                self._feeds.kline(self._markets[st.symbol], st.interval, now_us)
            if st.private and key is not None:
                account = self._accounts.get(key)
                if new and st.kind == "positionUpdate":
                    self._accounts.send_positions(cid, st, account, now_us)

    def _verify(self, signature: object) -> str | tuple[int, str]:
        return verify_signature(signature, self._accounts_allowed, self._stamp.clock)

    async def on_tick(self) -> None:
        """Advance every market by one tick, and the accounts on their cadence, and queue the
        resulting frames (loop thread)."""
        with self._lock:
            now_us = self._stamp.now_us()
            tick = self._feeds.tick(now_us)
            if tick % self.cadence_ticks("account") == 0:
                for key in sorted(self._subs.active_keys()):
                    if not self._accounts.is_trading(key):
                        self._accounts.step(self._accounts.get(key), now_us)
        self.notify()

    def http_get(self, path: str, params: dict[str, str]) -> tuple[int, Any] | None:
        """Answer public REST GETs (loop thread): ``/api/v1/depth``, ``/api/v1/markets``,
        ``/api/v1/time``, ``/api/v1/trades``, ``/api/v1/trades/history``."""
        with self._lock:
            return self._rest.get(path, params)

    def http_request(self, request: HttpRequest) -> HttpReply | None:
        """Answer one request on :attr:`http_url` (loop thread, under the state lock): the
        signed trading endpoints (:mod:`bpbfx.sim.backpack.trading`), else the public GETs."""
        if request.path in PATHS:
            return self._trading.handle(request, self._stamp.now_us())
        return super().http_request(request)

    # ------------------------------------------------------------------ fault controls

    def inject_gap(self, symbol: str, skip: int = 1) -> None:
        """On ``symbol``'s next tick, apply ``skip`` book updates that are never delivered.

        The realtime ``depth.<symbol>`` delta after it has ``U`` = previous ``u`` + 1 + ``skip``;
        aggregated streams also drop what they had pending, so their next ``U`` jumps at least
        as far.  REST and :meth:`book` include the skipped updates.  Any thread.

        Raises:
            ValueError: unknown symbol or ``skip`` < 1.
        """
        if skip < 1:
            raise ValueError(f"skip must be >= 1, got {skip!r}")
        with self._lock:
            self._market_faults(symbol).gap += skip

    def hold_depth(self, symbol: str, n_ticks: int | None = None) -> None:
        """Hold back ``symbol``'s depth deltas (all windows) for ``n_ticks`` ticks, or until
        :meth:`release_depth` when ``None``, then deliver them all at once, in order.

        Meanwhile the book keeps moving, so the REST snapshot is AHEAD of the socket (its
        ``lastUpdateId`` is beyond every delivered ``u``).  Trades and ``bookTicker`` keep
        flowing.  Any thread.

        Raises:
            ValueError: unknown symbol or ``n_ticks`` < 1.
        """
        if n_ticks is not None and n_ticks < 1:
            raise ValueError(f"n_ticks must be >= 1 or None, got {n_ticks!r}")
        with self._lock:
            faults = self._market_faults(symbol)
            faults.held = True
            faults.hold_left = n_ticks

    def release_depth(self, symbol: str) -> int:
        """Deliver ``symbol``'s held depth deltas now; returns how many realtime deltas were held.

        Any thread (runs on the server loop when it is running).

        Raises:
            ValueError: unknown symbol.
        """
        m = self._market(symbol)
        faults = self._faults.of(symbol)

        def go() -> int:
            held = len(faults.held_deltas)
            if faults.held:
                self._feeds.release(m, self._stamp.now_us())
            return held

        return self._run_locked(go)

    def stale_snapshots(self, symbol: str, count: int = 1) -> None:
        """Answer the next ``count`` REST depth requests for ``symbol`` with a STALE snapshot.

        Its ``lastUpdateId`` + 1 is below the first delta already sent to every current depth
        subscriber of ``symbol`` (or below the next delta when there is none), so a client that
        buffered from its subscription cannot align and must fetch again.  Any thread.

        Raises:
            ValueError: unknown symbol or ``count`` < 1.
        """
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count!r}")
        with self._lock:
            self._market_faults(symbol).stale_left = count

    def fail_rest(self, count: int = 1, status: int = 503) -> None:
        """Answer the next ``count`` REST requests with HTTP ``status`` and a Backpack-style
        error body.  Any thread.

        Raises:
            ValueError: ``count`` < 0 or ``status`` not an HTTP error status.
        """
        if count < 0 or not 400 <= status <= 599:
            raise ValueError(f"need count >= 0 and a 4xx/5xx status, got {count!r}, {status!r}")
        HTTPStatus(status)  # raises ValueError for an unknown status
        with self._lock:
            self._faults.rest_failures = (count, status)

    def list_market(self, market: str | MarketSpec) -> None:
        """List a market while running (a symbol: its built-in or generic spec, see
        :meth:`MarketSpec.for_symbol`): it moves and publishes from the next tick and shows in
        ``/api/v1/markets`` with ``orderBookState`` ``Open``.  A delisted market listed again
        reopens with the book it had.  Any thread.

        Raises:
            ValueError: the market is listed (open) already.
        """
        spec = market if isinstance(market, MarketSpec) else MarketSpec.for_symbol(market)
        with self._lock:
            existing = self._markets.get(spec.symbol)
            if existing is not None:
                if existing.book_state == "Open":
                    raise ValueError(f"market {spec.symbol!r} is listed already")
                existing.book_state = "Open"
                return
            self._markets[spec.symbol] = self._new_market(spec)
            self._faults.add(spec.symbol)

    def delist_market(self, symbol: str) -> None:
        """Delist ``symbol`` while running: its streams go silent (subscriptions stay, as for
        an unknown symbol), ``/api/v1/markets`` shows ``orderBookState`` ``Closed`` and
        ``/api/v1/tickers`` leaves it out.  Any thread.

        Raises:
            ValueError: unknown symbol.
        """
        with self._lock:
            self._market(symbol).book_state = "Closed"

    def set_market_paused(self, symbol: str, paused: bool = True) -> None:
        """Freeze (or resume) ``symbol``: no updates, trades or periodic frames while paused —
        a quiet market on a healthy connection.  Any thread.

        Raises:
            ValueError: unknown symbol.
        """
        with self._lock:
            self._market_faults(symbol).paused = paused

    def inject_error(self, code: int, message: str, conn_id: int | None = None) -> int:
        """Queue ``{"id":null,"error":{"code":code,"message":message}}`` to every client (or to
        ``conn_id``), in order with its data; returns how many got it.  Any thread."""

        def go() -> int:
            targets = [c for c in self._subs.clients if conn_id is None or c == conn_id]
            for cid in targets:
                self._subs.send_error(cid, (code, message))
            return len(targets)

        return self._run_locked(go)

    def send_malformed(self, conn_id: int | None = None, text: str | None = None) -> int:
        """Queue a frame that is not JSON (``text``, or a truncated depth frame) to every client
        (or to ``conn_id``), in order with its data; returns how many got it.  Any thread."""
        frame = text if text is not None else '{"stream":"depth.SOL_USDC","data":{"e":"depth","E":17'

        def go() -> int:
            targets = [c for c in self._subs.clients if conn_id is None or c == conn_id]
            for cid in targets:
                self._subs.enqueue(cid, frame)
            return len(targets)

        return self._run_locked(go)

    # ------------------------------------------------------------------ introspection
    def book(self, symbol: str, at_update_id: int | None = None) -> BookState:
        """A copy of ``symbol``'s book now, or as it was right after update ``at_update_id``
        (end of a tick still in the history).  Any thread.

        Raises:
            ValueError: unknown symbol.
            KeyError: ``at_update_id`` is not the end of a remembered tick.
        """
        with self._lock:
            m = self._market(symbol)
            if at_update_id is None:
                return m.state(m.last_id, m.bids.levels, m.asks.levels)
            for last_id, bids, asks in m.history:
                if last_id == at_update_id:
                    return m.state(last_id, bids, asks)
        raise KeyError(f"update id {at_update_id} of {symbol} is not in the history")

    def last_update_id(self, symbol: str) -> int:
        """The id of the last update applied to ``symbol``'s book (what REST reports).  Any thread.

        Raises:
            ValueError: unknown symbol.
        """
        with self._lock:
            return self._market(symbol).last_id

    def delivered_update_id(self, symbol: str) -> int:
        """The last ``u`` emitted on ``depth.<symbol>`` (behind :meth:`last_update_id` while
        held).  Any thread.

        Raises:
            ValueError: unknown symbol.
        """
        with self._lock:
            return self._market(symbol).delivered_id

    def subscriptions(self, conn_id: int | None = None) -> dict[int, frozenset[str]]:
        """Streams each connected client (or just ``conn_id``) is subscribed to.  Any thread."""
        with self._lock:
            clients = self._subs.clients
            return {cid: frozenset(c.streams) for cid, c in clients.items() if conn_id is None or cid == conn_id}

    def subscriber_count(self, stream: str) -> int:
        """How many connected clients are subscribed to ``stream``.  Any thread."""
        with self._lock:
            return len(self._subs.index.get(stream, ()))

    def queued_frames(self) -> int:
        """Frames queued for clients and not yet taken by their writers (approximate).  Any thread."""
        with self._lock:
            return sum(len(c.outbox) for c in self._subs.clients.values())

    def counters(self) -> dict[str, int]:
        """A copy of the counters: ``ticks``, ``depth_deltas``, ``rest_depth_requests``,
        ``signatures_verified``, ``signatures_rejected``, ``errors_sent``, ``frames_queued``,
        ``slow_consumers``; and of the trading endpoints ``orders_accepted``,
        ``orders_refused`` (by the engine), ``fills``, ``auth_refused``, ``rate_limited``,
        ``orders_refused_by_fault``, ``replies_dropped``, ``replies_failed``, ``cancels_202``,
        ``account_events_delayed``, ``account_events_lost``.  Any thread."""
        with self._lock:
            return dict(self._counters)

    @property
    def signatures_verified(self) -> int:
        """Private SUBSCRIBE frames whose signature was accepted."""
        with self._lock:
            return self._counters["signatures_verified"]

    @property
    def signatures_rejected(self) -> int:
        """Private SUBSCRIBE frames refused (missing, bad, expired signature, unknown key)."""
        with self._lock:
            return self._counters["signatures_rejected"]
