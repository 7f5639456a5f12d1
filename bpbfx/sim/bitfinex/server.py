"""The Bitfinex simulator: :class:`BitfinexSimulator` wires the markets, subscriptions,
authentication, channel 0, market feeds and fault bookkeeping to the shared server, and
holds the public controls.  The protocol it speaks is described in :mod:`bpbfx.sim.bitfinex`.
"""

from __future__ import annotations

import math
import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import bpbfx.sim.bitfinex.execution as execution
from bpbfx.sim._exchange import Cadences, check_options, check_symbols, lookup_market, pick_seed
from bpbfx.sim._http import HttpReply, HttpRequest
from bpbfx.sim._server import Outbox, SimConnection, SimServer
from bpbfx.sim.bitfinex.accounts import SimOffer, SimOrder, SimPosition, _Account
from bpbfx.sim.bitfinex.auth import Auth, AuthAttempt
from bpbfx.sim.bitfinex.channel0 import Channel0
from bpbfx.sim.bitfinex.clients import _Client
from bpbfx.sim.bitfinex.faults import Faults
from bpbfx.sim.bitfinex.feeds import PERIODS, MarketFeeds
from bpbfx.sim.bitfinex.market import _LENGTHS, _PRECISIONS, DEFAULT_MARKETS, BookView, MarketSpec, _Entry, _Market
from bpbfx.sim.bitfinex.rest import Rest
from bpbfx.sim.bitfinex.subscriptions import Subscriptions
from bpbfx.sim.bitfinex.wire import INFO_MESSAGES, book_checksum

__all__ = ["AuthAttempt", "BitfinexSimulator"]


def _check_spec(m: MarketSpec) -> None:
    if m.symbol[:1] not in ("t", "f") or len(m.symbol) < 2 or m.price <= 0 or m.size <= 0:
        raise ValueError(f"bad market {m!r}: symbol t<PAIR> or f<CCY>, price and size > 0")
    if m.orders is not None and m.orders < 50:
        raise ValueError(f"bad market {m!r}: orders must be >= 50 per side")


def _min_size(m: MarketSpec) -> Decimal:
    """The default minimum order size of a trading market: ``10**floor(log10(size)) / 1000``."""
    return Decimal(1).scaleb(math.floor(math.log10(m.size)) - 3)


class BitfinexSimulator(SimServer):
    """A Bitfinex WebSocket API v2 server on 127.0.0.1 (see :mod:`bpbfx.sim.bitfinex`).

    Args:
        host: interface to bind (loopback).
        port: TCP port, 0 for any free port (read back :attr:`port` / :attr:`url`).
        tick_interval: seconds between market ticks; ``None`` to advance only with :meth:`step`.
        hb_interval: seconds between two ``[CHAN,"hb"]`` of a channel (Bitfinex: 15).
        max_channels: channels one socket may subscribe to; the next gets 10305.
        seed: makes books, trades and account events reproducible; ``None`` picks one (kept
            in :attr:`seed`).
        version: the ``version`` written in ``info`` (clients must refuse anything but 2).
        platform_status: ``platform.status`` in ``info`` (1 operative, 0 maintenance).
        accounts: API key -> secret of the accounts that may authenticate.
        markets: :class:`MarketSpec` values (default :data:`DEFAULT_MARKETS`).
        time_scale: multiplies every exchange cadence (0.01: a "second" lasts 10 ms); a
            cadence is never shorter than one tick.
        clock: wall clock in seconds, for the times written in frames.
        idle_timeout: seconds after which a socket with neither a subscription nor
            authentication is dropped without a close frame (Bitfinex closes such a socket
            after about 60 s; default 60); ``None`` never.
        max_queued_frames: a client this many frames behind is closed with code 1008.
        account_balances: API key -> ``{wallet: {currency: amount}}`` (amounts as ``Decimal``,
            ``str`` or ``int``), e.g. ``{"k": {"exchange": {"USD": "10000", "BTC": "1"}}}``: a
            trading account that starts with exactly these wallets, no orders, positions or
            offers, and no invented activity.  Accounts without balances are synthetic: random
            wallets, two resting orders, a position and an offer, and made-up activity on the
            ``account`` cadence (which never touches orders sent over the API).
        account_activity: invent activity on synthetic accounts (``False``: none at all).
        min_order_sizes: trading symbol -> minimum order size (base currency); default for
            each market ``10**floor(log10(size)) / 1000`` (``tBTCUSD``: 0.0001).
        order_rate_limit: ``(inputs, seconds)``: at most that many order inputs (``on ou oc
            oc_multi fon foc``, each ``ox_multi`` operation) per account in any window of that
            many seconds; more get an ERROR notification ``ratelimit: error``.  Default
            ``(1000, 300.0)``: "the base limit is 1000 orders per 5 minutes per user"
            (Bitfinex, bitfinex-api-node #242).  ``None``: no limit.

    Raises:
        ValueError: an argument is out of range or a market is listed twice.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tick_interval: float | None = 0.05,
        hb_interval: float = 15.0,
        max_channels: int = 25,
        seed: int | None = None,
        version: int = 2,
        platform_status: int = 1,
        accounts: Mapping[str, str] | None = None,
        markets: Sequence[MarketSpec] = DEFAULT_MARKETS,
        time_scale: float = 1.0,
        clock: Callable[[], float] = time.time,
        idle_timeout: float | None = 60.0,
        max_queued_frames: int = 100_000,
        account_balances: Mapping[str, Mapping[str, Mapping[str, Decimal | str | int]]] | None = None,
        account_activity: bool = True,
        min_order_sizes: Mapping[str, Decimal | str] | None = None,
        order_rate_limit: tuple[int, float] | None = (1000, 300.0),
    ) -> None:
        super().__init__(host=host, port=port, tick_interval=tick_interval, ping_interval=None)
        check_options(tick_interval, time_scale, max_queued_frames)
        if hb_interval <= 0:
            raise ValueError(f"hb_interval must be > 0, got {hb_interval!r}")
        if max_channels < 1:
            raise ValueError(f"max_channels must be >= 1, got {max_channels!r}")
        if idle_timeout is not None and idle_timeout <= 0:
            raise ValueError(f"idle_timeout must be > 0 or None, got {idle_timeout!r}")
        if order_rate_limit is not None and (order_rate_limit[0] < 1 or order_rate_limit[1] <= 0):
            raise ValueError(f"order_rate_limit must be (inputs >= 1, seconds > 0) or None, got {order_rate_limit!r}")
        check_symbols(m.symbol for m in markets)
        for m in markets:
            _check_spec(m)
        self.seed: int = pick_seed(seed)
        self.hb_interval = hb_interval
        self.max_channels = max_channels
        self.version = version
        self.time_scale = time_scale
        self.idle_timeout = idle_timeout
        self.account_activity = account_activity
        self.order_rate_limit = order_rate_limit
        self._cadences = Cadences(PERIODS, tick_interval)
        self._clock = clock
        self._mono = time.monotonic
        self._max_queued = max_queued_frames
        self._aux = random.Random(f"{self.seed}:aux")  # server ids, status rows, liquidations
        self._platform_status = platform_status
        self._counters: dict[str, int] = {
            "ticks": 0,
            "subscribed": 0,
            "unsubscribed": 0,
            "errors_sent": 0,
            "book_updates": 0,
            "checksums_sent": 0,
            "heartbeats_sent": 0,
            "trades": 0,
            "auth_ok": 0,
            "auth_failed": 0,
            "info_sent": 0,
            "updates_dropped": 0,
            "checksums_corrupted": 0,
            "frames_queued": 0,
            "slow_consumers": 0,
            "unanswered": 0,
            "inputs": 0,
            "orders": 0,
            "rate_limited": 0,
            "orders_rejected_by_fault": 0,
            "dropped_before_notification": 0,
            "orders_lost": 0,
            "dms_cancels": 0,
            "rest_requests": 0,
            "rest_refused": 0,
            "rest_auth_ok": 0,
            "rest_auth_failed": 0,
        }
        now_ms = self._now_ms()
        self._markets: dict[str, _Market] = {m.symbol: _Market(m, self.seed, now_ms) for m in markets}
        min_sizes: dict[str, Decimal] = {m.symbol: _min_size(m) for m in markets if not m.funding}
        for sym, size in (min_order_sizes or {}).items():
            min_sizes[sym] = Decimal(str(size))
        self._faults = Faults()
        self._subs = Subscriptions(
            self._markets, self._faults, random.Random(f"{self.seed}:server"), self._mono, self._counters
        )
        self._auth = Auth(dict(accounts or {}), self._mono, self._counters)
        self._channel0 = Channel0(
            self.seed, self._markets, dict(account_balances or {}), min_sizes, self._subs, self._faults,
            self._now_ms, self._mono, self.later, self._counters,
        )
        self._feeds = MarketFeeds(
            self._markets, self._subs, self._faults, self.cadence_ticks, self._aux, self._counters
        )
        self._rest = Rest(self._markets, self._auth, self._channel0, self._counters, self._now_ms)

    # ------------------------------------------------------------------ helpers
    def cadence_ticks(self, name: str) -> int:
        """Ticks between two events of cadence ``name`` (``"ticker"``, ``"status"``,
        ``"book.F1"``, ``"account"``, ``"liquidation"``) after ``time_scale``; any thread.

        Raises:
            ValueError: unknown cadence name.
        """
        return self._cadences.ticks(name, self.time_scale)

    @property
    def markets(self) -> tuple[str, ...]:
        """The simulated symbols (trading and funding)."""
        return tuple(self._markets)

    def _market(self, symbol: str) -> _Market:
        return lookup_market(self._markets, symbol)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _info(self) -> dict[str, Any]:
        server_id = uuid.UUID(int=self._aux.getrandbits(128), version=4)
        return {
            "event": "info",
            "version": self.version,
            "serverId": str(server_id),
            "platform": {"status": self._platform_status},
        }

    # ------------------------------------------------------------------ server hooks (loop thread)
    async def on_connect(self, conn: SimConnection) -> None:
        """Register the client, start its writer and send ``info`` (loop thread)."""
        now = self._mono()
        client = _Client(conn, Outbox(conn, self._max_queued, self._counters), now, idle_since=now)
        with self._lock:
            self._subs.add(client)
            client.event(self._info())
        client.outbox.start()

    async def on_disconnect(self, conn: SimConnection) -> None:
        """Forget the client's channels and stop its writer (loop thread)."""
        with self._lock:
            client = self._subs.remove(conn.id)
            if client is None:
                return
            self._channel0.disconnected(client)
        client.outbox.stop()

    async def on_message(self, conn: SimConnection, message: str | bytes) -> None:
        """Handle one client frame (loop thread): events, and channel-0 inputs when
        authenticated.  Text that is not JSON is recorded and not answered (as on the wire)."""
        received = self.receive_json(conn, message)
        if received is None:
            return
        text, frame = received
        with self._lock:
            client = self._subs.clients.get(conn.id)
            if client is not None:
                if isinstance(frame, dict):
                    self._handle_event(client, frame)
                elif isinstance(frame, list):
                    self._channel0.handle_input(client, text, self.order_rate_limit)
        self.notify()

    def _handle_event(self, client: _Client, req: dict[str, Any]) -> None:
        event = req.get("event")
        if event == "subscribe":
            ch = self._subs.subscribe(client, req, self.max_channels)
            if ch is not None:
                self._feeds.snapshot(client, ch, self._now_ms())
        elif event == "unsubscribe":
            self._subs.unsubscribe(client, req)
        elif event == "conf":
            flags = req.get("flags")
            if not isinstance(flags, int) or isinstance(flags, bool) or flags < 0:
                self._subs.error(client, req, 10001, "conf: invalid")
                return
            client.flags = flags
            client.event({"event": "conf", "status": "OK", "flags": flags})
        elif event == "ping":
            pong: dict[str, Any] = {"event": "pong", "ts": self._now_ms()}
            if "cid" in req:
                pong["cid"] = req["cid"]
            client.event(pong)
        elif event == "auth":
            self._auth.auth(client, req, self._channel0.account, self._now_ms())
        elif event == "unauth":
            self._auth.unauth(client)
        else:
            name = event if isinstance(event, str) else "undefined"
            self._subs.error(client, req, 10000, f"event: invalid ({name})")

    async def on_tick(self) -> None:
        """Advance every market by one tick and queue the resulting frames (loop thread)."""
        with self._lock:
            now_ms = self._now_ms()
            tick = self._feeds.move(now_ms)
            self._channel0.match_resting(now_ms)
            self._feeds.publish(now_ms)
            if tick % self.cadence_ticks("account") == 0 and self.account_activity:
                self._channel0.synthetic_activity(now_ms)
            self._subs.heartbeats(now_ms, self.hb_interval, self.idle_timeout)
        self.notify()

    def http_request(self, request: HttpRequest) -> HttpReply | None:
        """Answer a REST request on :attr:`http_url` (loop thread, under the lock): the public
        trades and pair list, and the account's order and trade history (see
        :mod:`bpbfx.sim.bitfinex.rest`)."""
        return self._rest.handle(request)

    # ------------------------------------------------------------------ controls
    def send_info(self, code: int, *, msg: str | None = None, conn_id: int | None = None) -> int:
        """Send ``{"event":"info","code":code,"msg":...}`` to every client (or ``conn_id``), in
        order with its data; returns how many got it.  Any thread.

        20060 also enters maintenance, for the whole server (public data and account events
        stop, heartbeats go on, new sockets see ``platform.status`` 0) and 20061 leaves it;
        20051 only announces the restart (close the sockets with :meth:`close_connections` or
        :meth:`drop_connections`).

        Raises:
            ValueError: ``code`` is not 20051, 20060 or 20061 and no ``msg`` is given, or no
                such connection.
        """
        if msg is None:
            if code not in INFO_MESSAGES:
                raise ValueError(f"no standard text for info code {code}; known: {sorted(INFO_MESSAGES)}")
            msg = INFO_MESSAGES[code]
        text = msg

        def go() -> int:
            targets = self._subs.targets(conn_id)
            if code == 20060:
                self._faults.maintenance = True
                self._platform_status = 0
            elif code == 20061:
                self._faults.maintenance = False
                self._platform_status = 1
            for client in targets:
                client.event({"event": "info", "code": code, "msg": text})
            self._counters["info_sent"] += len(targets)
            return len(targets)

        return self._run_locked(go)

    def set_maintenance(self, on: bool = True) -> int:
        """Enter (20060) or leave (20061) maintenance, announcing it to every client; returns
        how many got the info frame.  Any thread."""
        return self.send_info(20060 if on else 20061)

    @property
    def maintenance(self) -> bool:
        """In maintenance (between 20060 and 20061)."""
        with self._lock:
            return self._faults.maintenance

    def set_platform_status(self, status: int) -> None:
        """``platform.status`` written in the ``info`` frame of new connections (1 operative,
        0 maintenance).  Any thread."""
        with self._lock:
            self._platform_status = status

    def silence_channel(
        self,
        chan_id: int | None = None,
        *,
        channel: str | None = None,
        symbol: str | None = None,
        conn_id: int | None = None,
        silent: bool = True,
    ) -> int:
        """Stop (or resume) every frame of matching channels, heartbeats and checksums
        included, while the others go on; returns how many channels matched.  Any thread.

        Match by ``chan_id``, or by ``channel`` (``"book"``...) and/or ``symbol`` (a symbol or a
        candles/status key), optionally on one connection.  The market keeps moving, so a book
        that resumes is stale (its next checksum fails).  Silenced frames take no sequence number.

        Raises:
            ValueError: nothing to match on, or no such connection.
        """
        if chan_id is None and channel is None and symbol is None:
            raise ValueError("give chan_id, channel or symbol")
        with self._lock:
            matched = self._subs.match_channels(chan_id, channel, symbol, conn_id)
            for ch in matched:
                ch.silenced = silent
            return len(matched)

    def corrupt_checksum(self, symbol: str, count: int = 1, *, conn_id: int | None = None) -> int:
        """Make the next ``count`` ``cs`` frames of every book channel of ``symbol`` (or those of
        ``conn_id``) wrong; returns how many channels were armed.  Any thread.

        Raises:
            ValueError: unknown symbol, ``count`` < 1 or no such connection.
        """
        return self._arm_books(symbol, count, conn_id, "corrupt_pending")

    def drop_update(self, symbol: str, count: int = 1, *, conn_id: int | None = None) -> int:
        """Do not send the next ``count`` book updates of ``symbol`` (on every book channel, or
        those of ``conn_id``) while the book changes as usual; each dropped update is one the
        checksum covers, so the next ``cs`` no longer matches the client's book.  Returns how
        many channels were armed.  Any thread.

        Raises:
            ValueError: unknown symbol, ``count`` < 1 or no such connection.
        """
        return self._arm_books(symbol, count, conn_id, "drop_pending")

    def _arm_books(self, symbol: str, count: int, conn_id: int | None, fault: str) -> int:
        """Add ``count`` to the ``fault`` counter of the matching book channels; how many.

        Raises:
            ValueError: unknown symbol, ``count`` < 1 or no such connection.
        """
        self._market(symbol)
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count!r}")
        with self._lock:
            matched = self._subs.match_channels(None, "book", symbol, conn_id)
            for ch in matched:
                setattr(ch, fault, getattr(ch, fault) + count)
            return len(matched)

    def skip_sequence(self, n: int = 1, *, conn_id: int | None = None, auth: bool = False) -> int:
        """Skip ``n`` numbers of the ``SEQ_ALL`` public sequence (``auth``: the channel-0 auth
        sequence) on every connection (or ``conn_id``): the next numbered frame shows a gap.
        Returns how many connections.  Any thread.

        Raises:
            ValueError: ``n`` < 1 or no such connection.
        """
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n!r}")
        with self._lock:
            targets = self._subs.targets(conn_id)
            for client in targets:
                if auth:
                    client.auth_seq += n
                else:
                    client.pub_seq += n
            return len(targets)

    def pause_market(self, symbol: str, paused: bool = True) -> None:
        """Freeze (or resume) ``symbol``: no book changes, trades or tickers, only heartbeats —
        a quiet market on a healthy connection.  Any thread.

        Raises:
            ValueError: unknown symbol.
        """
        with self._lock:
            self._market(symbol).paused = paused

    def list_market(self, market: MarketSpec) -> None:
        """List a new market while running: it evolves from the next tick, appears in the pair
        list (``/v2/conf/pub:list:pair:exchange``) and in ``/v2/tickers``, and can be
        subscribed.  A market delisted earlier may be listed again (with a fresh book).  Any
        thread.

        Raises:
            ValueError: the symbol is listed already, or the spec is malformed.
        """
        _check_spec(market)
        with self._lock:
            if market.symbol in self._markets:
                raise ValueError(f"market {market.symbol!r} is listed already")
            self._markets[market.symbol] = _Market(market, self.seed, self._now_ms())
            if not market.funding:
                self._channel0.min_sizes.setdefault(market.symbol, _min_size(market))

    def delist_market(self, symbol: str) -> MarketSpec:
        """Delist ``symbol`` while running: it stops moving and publishing (its channels get
        only heartbeats), leaves the pair list and the tickers, and a new subscription to it
        fails with 10300 ``symbol: invalid``; returns its spec.  Any thread.

        Raises:
            ValueError: unknown symbol.
        """
        with self._lock:
            market = self._market(symbol)
            del self._markets[market.symbol]
            return market.spec

    def send_raw(self, text: str, *, conn_id: int | None = None) -> int:
        """Queue ``text`` as is to every client (or ``conn_id``), in order with its data (unlike
        :meth:`inject`, which jumps the queue); returns how many got it.  Any thread.

        Raises:
            ValueError: no such connection.
        """

        def go() -> int:
            targets = self._subs.targets(conn_id)
            for client in targets:
                client.send_text(text)
            return len(targets)

        return self._run_locked(go)

    def add_account(
        self,
        api_key: str,
        api_secret: str,
        *,
        balances: Mapping[str, Mapping[str, Decimal | str | int]] | None = None,
    ) -> None:
        """Accept ``api_key`` / ``api_secret`` for authentication from now on; with
        ``balances`` (``{wallet: {currency: amount}}``) it is a trading account starting with
        exactly those wallets (see ``account_balances``).  Any thread.

        Raises:
            ValueError: the account was already used (its state exists) and balances are given.
        """
        with self._lock:
            if balances is not None:
                if api_key in self._channel0.accounts:
                    raise ValueError(f"account {api_key!r} already exists; use set_balance()")
                self._channel0.balances[api_key] = balances
            self._auth.secrets[api_key] = api_secret

    # ------------------------------------------------------------------ trading accounts
    def _existing(self, api_key: str) -> _Account:
        if api_key not in self._auth.secrets:
            raise ValueError(f"unknown account {api_key!r}")
        return self._channel0.account(api_key)

    def orders(self, api_key: str) -> list[SimOrder]:
        """The open orders of an account as the exchange holds them (what ``os`` sends),
        oldest first.  Any thread.

        Raises:
            ValueError: unknown API key.
        """
        with self._lock:
            return [o.public() for o in self._existing(api_key).orders.values()]

    def wallets(self, api_key: str) -> dict[tuple[str, str], Decimal]:
        """``(wallet, currency) -> balance`` of an account.  Any thread.

        Raises:
            ValueError: unknown API key.
        """
        with self._lock:
            return dict(self._existing(api_key).wallets)

    def available_balance(self, api_key: str, wallet: str, currency: str) -> Decimal:
        """A wallet's balance minus what open exchange orders hold (buys: price x amount plus
        the 0.2 % taker fee; sells: the amount).  Any thread.

        Raises:
            ValueError: unknown API key.
        """
        with self._lock:
            return self._existing(api_key).available((wallet, currency))

    def positions(self, api_key: str) -> list[SimPosition]:
        """The positions of an account (closed ones included).  Any thread.

        Raises:
            ValueError: unknown API key.
        """
        with self._lock:
            return [p.public() for p in self._existing(api_key).positions.values()]

    def offers(self, api_key: str) -> list[SimOffer]:
        """The open funding offers of an account.  Any thread.

        Raises:
            ValueError: unknown API key.
        """
        with self._lock:
            return [o.public() for o in self._existing(api_key).offers.values()]

    def set_balance(self, api_key: str, wallet: str, currency: str, amount: Decimal | str | int) -> None:
        """Set a wallet's balance (``wallet`` ``"exchange"``, ``"margin"`` or ``"funding"``);
        connected sockets of the account get ``wu`` and ``bu``.  Any thread.

        Raises:
            ValueError: unknown API key or a bad amount.
        """
        value = Decimal(str(amount))
        if not value.is_finite():
            raise ValueError(f"bad amount {amount!r}")

        def go() -> None:
            account = self._existing(api_key)
            self._channel0.broadcast(account.key, account.set_balance(wallet, currency, value), self._now_ms())

        self._run_locked(go)

    def fill_order(self, order_id: int, amount: Decimal | str | None = None) -> SimOrder:
        """Make the market cross a resting order: ``amount`` (unsigned; ``None``: all that is
        left) executes as maker at the order's price, with ``te``, ``ou`` (partial) or ``oc``
        (``EXECUTED @ ...``), ``wu``/``pu``, ``tu`` and ``bu`` to the account's sockets and a
        public trade with the next tick.  Returns the order after the fill.  Any thread.

        Raises:
            ValueError: no open order ``order_id``, or a bad amount.
        """
        size = None if amount is None else Decimal(str(amount))

        def go() -> SimOrder:
            for account in self._channel0.accounts.values():
                o = account.orders.get(order_id)
                if o is not None:
                    now_ms = self._now_ms()
                    self._channel0.broadcast(account.key, execution.fill(account, o, size, now_ms), now_ms)
                    return o.public()
            raise ValueError(f"no open order {order_id!r}")

        return self._run_locked(go)

    def reject_next_orders(
        self, text: str, count: int = 1, *, status: str = "ERROR", api_key: str | None = None
    ) -> None:
        """Refuse the next ``count`` new orders (``on``) of ``api_key`` (or of any account)
        with an on-req notification of ``status`` (``"ERROR"`` or ``"FAILURE"``) and ``text``;
        no order is created.  Any thread.

        Raises:
            ValueError: ``count`` < 1.
        """
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count!r}")
        with self._lock:
            self._faults.reject_next.setdefault(api_key, []).extend([(status, text)] * count)

    def drop_before_notification(
        self, count: int = 1, *, api_key: str | None = None, then: str | None = None
    ) -> None:
        """For the next ``count`` accepted new orders (``on`` inputs) of ``api_key`` (or of any
        account): the order is created (and executes and rests as usual), then the socket that
        sent it is dropped without a close frame before its ``n`` / ``on`` go out.  Other sockets
        of the account get them.  ``then`` decides what becomes of the order while that socket
        is down, before its client can be back: ``"fill"`` executes what is left of it (as
        maker, at its price: ``te``/``oc``/``tu`` to the account's other sockets and the
        history), ``"cancel"`` cancels it; ``None`` leaves it.  After a reconnect the ``os``
        snapshot shows the order if it is still open, and the REST history shows it closed,
        with its fills, otherwise.  Any thread.

        Raises:
            ValueError: ``count`` < 1 or an unknown ``then``.
        """
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count!r}")
        if then not in (None, "fill", "cancel"):
            raise ValueError(f"then must be None, 'fill' or 'cancel', got {then!r}")
        with self._lock:
            self._faults.drop_next.setdefault(api_key, []).extend([then] * count)

    def lose_next_orders(self, count: int = 1, *, api_key: str | None = None) -> None:
        """The next ``count`` new orders (``on`` inputs) of ``api_key`` (or of any account) are
        lost: the socket that sent each is dropped without a close frame as it arrives, and the
        exchange never handles it (no order, nothing in the history).  The input still counts
        in :meth:`order_inputs`.  Any thread.

        Raises:
            ValueError: ``count`` < 1.
        """
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count!r}")
        with self._lock:
            self._faults.lose_next[api_key] = self._faults.lose_next.get(api_key, 0) + count

    def drop_account_sockets(self, api_key: str) -> int:
        """Abort, without a close frame, every socket authenticated with ``api_key`` (its
        trading socket), leaving the others; returns how many.  Any thread."""

        async def go() -> int:
            with self._lock:
                ids = [cid for cid, c in self._subs.clients.items() if c.account == api_key]
            for cid in ids:
                conn = self.connections.get(cid)
                if conn is not None:
                    conn.abort()
            return len(ids)

        return self.call(go)

    def refuse_rest(
        self,
        path_prefix: str = "/v2/",
        status: int | None = 500,
        body: Any = None,
        *,
        count: int | None = None,
        drop: bool = False,
    ) -> None:
        """Refuse the REST requests whose path starts with ``path_prefix`` (``"/v2/auth/r/"``:
        the account history) with HTTP ``status`` and ``body`` (a JSON value; default
        ``["error", 10001, "refused (simulator fault)"]``), or with ``drop`` close the
        connection without an answer (the request was taken, its answer lost).  ``count``:
        only the next ``count`` such requests; ``None`` until disarmed with ``status=None``.
        Arming a prefix again replaces its refusal.  Any thread.

        Raises:
            ValueError: ``count`` < 1.
        """
        if count is not None and count < 1:
            raise ValueError(f"count must be >= 1 or None, got {count!r}")
        with self._lock:
            self._rest.refuse(path_prefix, status, body, drop, count)

    def delay_notifications(self, seconds: float, *, api_key: str | None = None) -> None:
        """Send the notifications answering requests (on-req, oc-req, ...) ``seconds`` late,
        for ``api_key`` (or every account); the order frames (``on``, ``oc``...) go at once,
        so a client sees them first.  ``0`` turns it off.  Any thread.

        Raises:
            ValueError: ``seconds`` < 0.
        """
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {seconds!r}")
        with self._lock:
            self._faults.notify_delay[api_key] = float(seconds)

    def send_notification(
        self,
        kind: str,
        text: str,
        *,
        api_key: str | None = None,
        info: Any = None,
        status: str | None = None,
    ) -> int:
        """Send a notification that answers no request, e.g. ``"wallet_transfer"`` or
        ``"ucm-notify-ui"``: ``[0,"n",[MTS,kind,null,null,info,null,status,text]]``; with
        ``SEQ_ALL`` it carries ``PUB_SEQ, AUTH_SEQ`` (the public number advances, the auth
        number does not).  To every authenticated socket (or those of ``api_key``); returns
        how many got it.  Any thread."""

        return self._run_locked(lambda: self._channel0.notify_sockets(kind, text, api_key, info, status))

    # ------------------------------------------------------------------ introspection
    def subscriptions(self, conn_id: int | None = None) -> dict[int, dict[int, dict[str, Any]]]:
        """connection id -> chanId -> the subscribe request as received, for every connected
        client (or just ``conn_id``).  Any thread."""
        with self._lock:
            return {
                cid: {chan: dict(ch.request) for chan, ch in c.channels.items()}
                for cid, c in self._subs.clients.items()
                if conn_id is None or cid == conn_id
            }

    def channel_count(self, conn_id: int | None = None) -> int:
        """Channels subscribed right now on every connection (or ``conn_id``).  Any thread."""
        with self._lock:
            return sum(len(c.channels) for cid, c in self._subs.clients.items() if conn_id is None or cid == conn_id)

    def chan_id(self, conn_id: int, channel: str, symbol: str) -> int | None:
        """The chanId of ``channel`` on ``symbol`` (or candles/status key) of a connection, the
        first if there are several books; ``None`` if not subscribed.  Any thread."""
        with self._lock:
            client = self._subs.clients.get(conn_id)
            if client is None:
                return None
            for ch in client.channels.values():
                if ch.topic[0] == channel and symbol in (ch.symbol, ch.key):
                    return ch.chan_id
            return None

    @property
    def connection_ids(self) -> list[int]:
        """Ids of the clients connected right now, oldest first."""
        with self._lock:
            return sorted(self._subs.clients)

    def book(self, symbol: str, prec: str = "P0", length: int = 25) -> BookView:
        """The authoritative ``symbol`` book now, as a subscriber of ``prec`` / ``length`` (F0)
        has it after the last tick.  Any thread.

        Raises:
            ValueError: unknown symbol, precision or length.
        """
        if prec not in _PRECISIONS:
            raise ValueError(f"prec must be one of {_PRECISIONS}, got {prec!r}")
        if str(length) not in _LENGTHS:
            raise ValueError(f"length must be one of {_LENGTHS}, got {length!r}")
        with self._lock:
            m = self._market(symbol)
            sides = m.view_entries(prec, length)

        def texts(entries: list[_Entry]) -> tuple[tuple[str, ...], ...]:
            return tuple(tuple(e[1].split(",")) for e in entries)

        cs = book_checksum([(e[3], e[4]) for e in sides[0][:25]], [(e[3], e[4]) for e in sides[1][:25]])
        return BookView(symbol, prec, length, texts(sides[0]), texts(sides[1]), cs)

    def order_inputs(self, cid: int, *, api_key: str | None = None) -> int:
        """How many new-order inputs (``on``, alone or in an ``ox_multi``) carrying ``cid`` the
        accounts (or ``api_key``'s) received: exactly once means 1.  Any thread."""
        with self._lock:
            return sum(n for (key, c), n in self._channel0.on_inputs.items() if c == cid and api_key in (None, key))

    def auth_count(self, api_key: str) -> int:
        """How many WebSocket authentications of ``api_key`` were accepted.  Any thread."""
        with self._lock:
            return sum(1 for a in self._auth.attempts if a.ok and a.api_key == api_key)

    def connections_of(self, api_key: str) -> list[int]:
        """The connection ids authenticated with ``api_key`` right now, oldest first.  Any thread."""
        with self._lock:
            return sorted(cid for cid, c in self._subs.clients.items() if c.account == api_key)

    def nonces(self) -> dict[str, int]:
        """The last nonce accepted per API key.  Any thread."""
        with self._lock:
            return dict(self._auth.nonces)

    def auth_attempts(self) -> list[AuthAttempt]:
        """Every ``auth`` event received, oldest first.  Any thread."""
        with self._lock:
            return list(self._auth.attempts)

    def authenticated(self, conn_id: int) -> str | None:
        """The API key a connection is authenticated with, or ``None``.  Any thread."""
        with self._lock:
            client = self._subs.clients.get(conn_id)
            return client.account if client is not None else None

    def flags(self, conn_id: int) -> int:
        """The ``conf`` flags of a connection (0 before any ``conf``).  Any thread.

        Raises:
            ValueError: no such connection.
        """
        with self._lock:
            return self._subs.targets(conn_id)[0].flags

    def counters(self) -> dict[str, int]:
        """A copy of the counters: ``ticks``, ``subscribed``, ``unsubscribed``, ``errors_sent``,
        ``book_updates``, ``checksums_sent``, ``heartbeats_sent``, ``trades``, ``auth_ok``,
        ``auth_failed``, ``info_sent``, ``updates_dropped``, ``checksums_corrupted``,
        ``frames_queued``, ``slow_consumers``, ``unanswered``, ``inputs`` (channel-0 frames
        received), ``orders`` (``on`` inputs handled), ``rate_limited``,
        ``orders_rejected_by_fault``, ``dropped_before_notification``, ``orders_lost``,
        ``dms_cancels``,
        ``rest_requests`` (REST requests taken), ``rest_refused`` (refused by
        :meth:`refuse_rest`), ``rest_auth_ok`` / ``rest_auth_failed`` (authenticated REST
        requests accepted / refused).  Any thread."""
        with self._lock:
            return dict(self._counters)

    def queued_frames(self) -> int:
        """Frames queued for clients and not yet taken by their writers (approximate).  Any thread."""
        with self._lock:
            return sum(len(c.outbox) for c in self._subs.clients.values())

