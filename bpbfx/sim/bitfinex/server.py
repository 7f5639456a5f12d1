"""The Bitfinex simulator server: connections, subscriptions, auth, channel 0 and fault controls."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import math
import random
import re
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from bpbfx.sim._server import SimConnection, SimServer
from bpbfx.sim.bitfinex.accounts import Out, SimOffer, SimOrder, SimPosition, _Account
from bpbfx.sim.bitfinex.market import (
    _CHANNELS,
    _FREQS,
    _LENGTHS,
    _PRECISIONS,
    CANDLE_TIMEFRAMES,
    DEFAULT_MARKETS,
    BookView,
    MarketSpec,
    _Candles,
    _Entry,
    _Market,
    _Trade,
    _View,
)
from bpbfx.sim.bitfinex.wire import (
    BULK_UPDATES,
    INFO_MESSAGES,
    OB_CHECKSUM,
    SEQ_ALL,
    TIMESTAMP,
    _dumps,
    _js,
    _signed32,
    book_checksum,
    js_number,
)

__all__ = ["AuthAttempt", "BitfinexSimulator"]

_SNAPSHOT_TYPES = frozenset({"ps", "ws", "os", "fos", "fcs", "fls"})
_RE_PAYLOAD = re.compile(r"AUTH(\d{1,20})")
_INPUTS = frozenset({"on", "ou", "oc", "oc_multi", "ox_multi", "calc", "fon", "foc"})
T = TypeVar("T")

# Exchange cadences in (unscaled) seconds, counted in ticks.
_PERIODS: dict[str, float] = {
    "ticker": 1.0,
    "status": 1.0,
    "book.F1": 2.0,
    "account": 0.5,
    "liquidation": 2.0,
}

_CAPS: dict[str, dict[str, int]] = {
    "bfxpay": {"read": 0, "write": 0},
    "orders": {"read": 1, "write": 1},
    "account": {"read": 1, "write": 0},
    "funding": {"read": 1, "write": 1},
    "history": {"read": 1, "write": 0},
    "wallets": {"read": 1, "write": 0},
    "settings": {"read": 1, "write": 0},
    "withdraw": {"read": 0, "write": 0},
    "positions": {"read": 1, "write": 1},
    "ui_withdraw": {"read": 0, "write": 0},
}

# Channel-0 message types by auth filter (Bitfinex "Channel Filters").
_FILTER_TYPES: dict[str, frozenset[str]] = {
    "trading": frozenset({"os", "on", "ou", "oc", "te", "tu", "ps", "pn", "pu", "pc", "miu"}),
    "funding": frozenset({"fos", "fon", "fou", "foc", "fcs", "fcn", "fcu", "fcc", "fls", "fln", "flu", "flc",
                          "fte", "ftu", "fiu"}),
    "wallet": frozenset({"ws", "wu"}),
    "balance": frozenset({"bu"}),
    "notify": frozenset({"n"}),
}


@dataclass(frozen=True)
class AuthAttempt:
    """One ``auth`` event received.

    Attributes:
        conn_id: the connection.
        api_key: the key sent (``None`` when absent).
        nonce: the nonce read from the payload (``None`` when unreadable).
        ok: accepted.
        code: the error code of a refusal, else ``None``.
        msg: the error text of a refusal, else ``None``.
        filter: the ``filter`` list sent.
        dms: the ``dms`` value sent.
    """

    conn_id: int
    api_key: str | None
    nonce: int | None
    ok: bool
    code: int | None = None
    msg: str | None = None
    filter: tuple[str, ...] = ()
    dms: Any = None


# --------------------------------------------------------------------------- connections
@dataclass(eq=False)
class _Channel:
    chan_id: int
    topic: tuple[str, ...]
    request: dict[str, Any]
    symbol: str | None
    key: str | None
    last_hb: float
    silenced: bool = False
    drop_pending: int = 0
    corrupt_pending: int = 0


@dataclass(eq=False)
class _Client:
    conn: SimConnection
    outbox: asyncio.Queue[str | None]  # None: abort the connection once the frames before are out
    connected_at: float
    writer: asyncio.Task[None] | None = None
    flags: int = 0
    pub_seq: int = 0
    auth_seq: int = 0
    channels: dict[int, _Channel] = field(default_factory=dict)
    topics: dict[tuple[str, ...], int] = field(default_factory=dict)
    closed_ids: set[int] = field(default_factory=set)
    account: str | None = None
    filters: frozenset[str] | None = None
    last_hb0: float = 0.0
    heard: bool = False
    overflowed: bool = False
    dms: bool = False  # authenticated with dms 4: cancel the account's orders on disconnect
    idle_since: float = 0.0  # when it last had neither a subscription nor authentication


# --------------------------------------------------------------------------- the simulator
class BitfinexSimulator(SimServer):
    """A Bitfinex WebSocket API v2 server on 127.0.0.1 (see the module docstring).

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
        if tick_interval is not None and tick_interval <= 0:
            raise ValueError(f"tick_interval must be > 0 or None, got {tick_interval!r}")
        if hb_interval <= 0:
            raise ValueError(f"hb_interval must be > 0, got {hb_interval!r}")
        if max_channels < 1:
            raise ValueError(f"max_channels must be >= 1, got {max_channels!r}")
        if time_scale <= 0:
            raise ValueError(f"time_scale must be > 0, got {time_scale!r}")
        if idle_timeout is not None and idle_timeout <= 0:
            raise ValueError(f"idle_timeout must be > 0 or None, got {idle_timeout!r}")
        if max_queued_frames < 1:
            raise ValueError(f"max_queued_frames must be >= 1, got {max_queued_frames!r}")
        if order_rate_limit is not None and (order_rate_limit[0] < 1 or order_rate_limit[1] <= 0):
            raise ValueError(f"order_rate_limit must be (inputs >= 1, seconds > 0) or None, got {order_rate_limit!r}")
        symbols = [m.symbol for m in markets]
        if not symbols:
            raise ValueError("markets must not be empty")
        if len(set(symbols)) != len(symbols):
            raise ValueError(f"markets listed twice in {symbols}")
        for m in markets:
            if m.symbol[:1] not in ("t", "f") or len(m.symbol) < 2 or m.price <= 0 or m.size <= 0:
                raise ValueError(f"bad market {m!r}: symbol t<PAIR> or f<CCY>, price and size > 0")
        self.seed: int = seed if seed is not None else random.SystemRandom().randrange(2**63)
        self.hb_interval = hb_interval
        self.max_channels = max_channels
        self.version = version
        self.time_scale = time_scale
        self.idle_timeout = idle_timeout
        self._nominal_tick = tick_interval if tick_interval is not None else 0.05
        self._clock = clock
        self._mono = time.monotonic
        self._max_queued = max_queued_frames
        self._rng = random.Random(f"{self.seed}:server")  # chanIds only
        self._aux = random.Random(f"{self.seed}:aux")  # server ids, status rows, liquidations
        self._platform_status = platform_status
        self._accounts_secrets: dict[str, str] = dict(accounts or {})
        now_ms = self._now_ms()
        self._markets: dict[str, _Market] = {m.symbol: _Market(m, self.seed, now_ms) for m in markets}
        self._clients: dict[int, _Client] = {}
        self._views: dict[tuple[str, str, str, int], _View] = {}
        self._topic_subs: dict[tuple[str, ...], set[tuple[int, int]]] = {}
        self._accounts: dict[str, _Account] = {}
        self._balances: dict[str, Mapping[str, Mapping[str, Decimal | str | int]]] = dict(account_balances or {})
        self.account_activity = account_activity
        self.order_rate_limit = order_rate_limit
        self._min_sizes: dict[str, Decimal] = {
            m.symbol: Decimal(1).scaleb(math.floor(math.log10(m.size)) - 3) for m in markets if not m.funding
        }
        for sym, size in (min_order_sizes or {}).items():
            self._min_sizes[sym] = Decimal(str(size))
        self._input_times: dict[str, deque[float]] = {}
        # Fault controls, per API key (None: any account).
        self._reject_next: dict[str | None, list[tuple[str, str]]] = {}
        self._drop_next: dict[str | None, list[bool]] = {}
        self._notify_delay: dict[str | None, float] = {}
        self._nonces: dict[str, int] = {}
        self._auth_attempts: list[AuthAttempt] = []
        self._next_chan = self._rng.randrange(10_000, 200_000)
        self._next_pos = self._aux.randrange(10**8, 2 * 10**8)
        self._maintenance = False
        self._ticks = 0
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
            "dms_cancels": 0,
        }

    # ------------------------------------------------------------------ helpers
    def cadence_ticks(self, name: str) -> int:
        """Ticks between two events of cadence ``name`` (``"ticker"``, ``"status"``,
        ``"book.F1"``, ``"account"``, ``"liquidation"``) after ``time_scale``; any thread.

        Raises:
            ValueError: unknown cadence name.
        """
        try:
            period = _PERIODS[name]
        except KeyError:
            raise ValueError(f"unknown cadence {name!r}; known: {sorted(_PERIODS)}") from None
        return max(1, round(period * self.time_scale / self._nominal_tick))

    @property
    def markets(self) -> tuple[str, ...]:
        """The simulated symbols (trading and funding)."""
        return tuple(self._markets)

    def _market(self, symbol: str) -> _Market:
        try:
            return self._markets[symbol]
        except KeyError:
            raise ValueError(f"unknown market {symbol!r}; simulated: {list(self._markets)}") from None

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _new_chan_id(self) -> int:
        self._next_chan += self._rng.randrange(1, 4)
        return self._next_chan

    # ------------------------------------------------------------------ sending (under the lock)
    def _enqueue(self, client: _Client, text: str) -> None:
        if client.overflowed:
            return
        if client.outbox.qsize() >= self._max_queued:
            client.overflowed = True
            self._counters["slow_consumers"] += 1
            self.spawn(client.conn.ws.close(1008, "slow consumer"))
            return
        client.outbox.put_nowait(text)
        self._counters["frames_queued"] += 1

    def _event(self, client: _Client, obj: Mapping[str, Any]) -> None:
        self._enqueue(client, _dumps(obj))

    def _array(self, client: _Client, chan_id: int, body: str, now_ms: int) -> None:
        """Queue ``[chan_id,<body>]`` with the socket's sequence number and time as configured.

        While the whole server is silent (``set_silent``: nothing is sent at all, as during
        maintenance) no frame is made, so none takes a sequence number: the exchange numbers
        what it sends.  A connection silenced alone still numbers its frames and loses them, as
        a dead link would."""
        if self._silent:
            return
        text = f"[{chan_id},{body}"
        if client.flags & SEQ_ALL:
            client.pub_seq += 1
            text += f",{client.pub_seq}"
        if client.flags & TIMESTAMP:
            text += f",{now_ms}"
        self._enqueue(client, text + "]")

    def _push(self, client: _Client, ch: _Channel, body: str, now_ms: int, data: bool = True) -> bool:
        """Send on a public channel unless it is silenced (or in maintenance, for data)."""
        if ch.silenced or (data and self._maintenance):
            return False
        self._array(client, ch.chan_id, body, now_ms)
        return True

    def _push0(self, client: _Client, kind: str, data: str, now_ms: int, *, reply: bool = False) -> None:
        """Channel 0 with ``SEQ_ALL``: ``[0,TYPE,DATA,PUB_SEQ,AUTH_SEQ]``, both advancing.

        Notifications do not advance the auth sequence: they carry the current AUTH_SEQ
        ("Notification sequence numbers no longer advance", Bitfinex, bitfinex-api-node PR
        #429; the official client's audit expects "no advancement" on ``n``).  A notification
        answering a request (``reply``: on-req, oc-req, ...) carries only that number and no
        PUB_SEQ ("*-req packets don't include public seq numbers", bitfinex-api-node
        lib/transports/ws2.js); other notifications (``wallet_transfer``, ``ucm-notify-ui``,
        seen in a live capture) carry both, taking the next PUB_SEQ.
        """
        if self._silent:
            return  # nothing is sent, so nothing is numbered (see _array)
        text = f'[0,"{kind}",{data}'
        if client.flags & SEQ_ALL:
            if kind == "n":
                if not reply:
                    client.pub_seq += 1
                    text += f",{client.pub_seq}"
            else:
                client.auth_seq += 1
                client.pub_seq += 1
                text += f",{client.pub_seq}"
            text += f",{client.auth_seq}"
        if client.flags & TIMESTAMP:
            text += f",{now_ms}"
        self._enqueue(client, text + "]")

    def _error(
        self, client: _Client, req: Mapping[str, Any], code: int, msg: str, extra: Mapping[str, Any] | None = None
    ) -> None:
        # Bitfinex: the request's fields come first, then event, msg, code.
        out: dict[str, Any] = {k: v for k, v in req.items() if k not in ("event", "msg", "code")}
        out["event"] = "error"
        out["msg"] = msg
        out["code"] = code
        if extra:
            for k, v in extra.items():
                out.setdefault(k, v)
        self._counters["errors_sent"] += 1
        self._event(client, out)

    def _info(self) -> dict[str, Any]:
        server_id = uuid.UUID(int=self._aux.getrandbits(128), version=4)
        return {
            "event": "info",
            "version": self.version,
            "serverId": str(server_id),
            "platform": {"status": self._platform_status},
        }

    # ------------------------------------------------------------------ connection hooks
    async def on_connect(self, conn: SimConnection) -> None:
        """Register the client, start its writer and send ``info`` (loop thread)."""
        client = _Client(conn, asyncio.Queue(), self._mono())
        client.idle_since = client.connected_at
        with self._lock:
            self._clients[conn.id] = client
            self._event(client, self._info())
        client.writer = self.spawn(self._writer(client))

    async def on_disconnect(self, conn: SimConnection) -> None:
        """Forget the client's channels and stop its writer (loop thread)."""
        with self._lock:
            client = self._clients.pop(conn.id, None)
            if client is None:
                return
            for ch in list(client.channels.values()):
                self._drop_channel(client, ch)
            if client.account is not None and client.dms:
                # Bitfinex auth "dms": 4 -> "when socket is closed, cancel all account orders".
                account = self._account(client.account)
                events = account.cancel_all(self._now_ms())
                self._counters["dms_cancels"] += sum(1 for e in events if e[0] == "oc")
                self._broadcast_account(account.key, events, self._now_ms())
        if client.writer is not None:
            client.writer.cancel()

    async def _writer(self, client: _Client) -> None:
        while True:
            text = await client.outbox.get()
            if text is None:
                transport = client.conn.ws.transport
                if transport is not None:
                    transport.abort()
                return
            await client.conn.send(text)

    async def on_message(self, conn: SimConnection, message: str | bytes) -> None:
        """Handle one client frame (loop thread): events, and channel-0 inputs when
        authenticated.  Text that is not JSON is recorded and not answered (as on the wire)."""
        try:
            text = message if isinstance(message, str) else message.decode("utf-8")
            frame = json.loads(text)
        except (UnicodeDecodeError, ValueError):
            self.record(conn, message)
            return
        self.record(conn, frame)
        with self._lock:
            client = self._clients.get(conn.id)
            if client is not None:
                client.heard = True
                if isinstance(frame, dict):
                    self._handle_event(client, frame)
                elif isinstance(frame, list):
                    self._handle_input(client, text)
        self.notify()

    # ------------------------------------------------------------------ events
    def _handle_event(self, client: _Client, req: dict[str, Any]) -> None:
        event = req.get("event")
        if event == "subscribe":
            self._subscribe(client, req)
        elif event == "unsubscribe":
            self._unsubscribe(client, req)
        elif event == "conf":
            flags = req.get("flags")
            if not isinstance(flags, int) or isinstance(flags, bool) or flags < 0:
                self._error(client, req, 10001, "conf: invalid")
                return
            client.flags = flags
            self._event(client, {"event": "conf", "status": "OK", "flags": flags})
        elif event == "ping":
            pong: dict[str, Any] = {"event": "pong", "ts": self._now_ms()}
            if "cid" in req:
                pong["cid"] = req["cid"]
            self._event(client, pong)
        elif event == "auth":
            self._auth(client, req)
        elif event == "unauth":
            client.account = None
            client.filters = None
            self._event(client, {"event": "unauth", "status": "OK", "chanId": 0})
        else:
            name = event if isinstance(event, str) else "undefined"
            self._error(client, req, 10000, f"event: invalid ({name})")

    def _normalize_symbol(self, req: Mapping[str, Any]) -> str | None:
        symbol = req.get("symbol")
        if symbol is None and isinstance(req.get("pair"), str):
            symbol = "t" + str(req["pair"])
        if not isinstance(symbol, str):
            return None
        if symbol in self._markets:
            return symbol
        # Bitfinex accepts a trading symbol without its "t" and acks it with the prefix.
        if "t" + symbol in self._markets:
            return "t" + symbol
        return None

    def _subscribe(self, client: _Client, req: dict[str, Any]) -> None:
        channel = req.get("channel")
        if channel not in _CHANNELS:
            self._error(client, req, 10300, "channel: unknown")
            return
        symbol: str | None = None
        key: str | None = None
        extra: dict[str, Any] = {}
        echo: dict[str, Any] = {}
        if channel in ("ticker", "trades", "book"):
            symbol = self._normalize_symbol(req)
            raw = req.get("symbol", req.get("pair"))
            if symbol is None:
                name = str(raw) if raw is not None else ""
                label = "currency" if name.startswith("f") else "pair"
                self._error(client, req, 10300, "symbol: invalid", {label: name[1:] if name[:1] in "tf" else name})
                return
            extra = {"currency" if symbol.startswith("f") else "pair": symbol[1:]}
            echo["symbol"] = symbol
            topic: tuple[str, ...] = (channel, symbol)
            if channel == "book":
                prec = req.get("prec", "P0")
                freq = req.get("freq", "F0")
                length = str(req.get("len", "25"))
                if prec not in _PRECISIONS:
                    self._error(client, req, 10300, "precision: invalid", extra)
                    return
                if freq not in _FREQS:
                    self._error(client, req, 10300, "freq: invalid", extra)
                    return
                if length not in _LENGTHS:
                    self._error(client, req, 10300, "length: invalid", extra)
                    return
                echo.update(prec=prec, freq=freq, len=length)
                topic = (channel, symbol, str(prec), str(freq), length)
        elif channel == "candles":
            key = req.get("key") if isinstance(req.get("key"), str) else None
            parts = key.split(":", 2) if key else []
            if (
                len(parts) != 3
                or parts[0] != "trade"
                or parts[1] not in CANDLE_TIMEFRAMES
                or parts[2] not in self._markets
                or parts[2].startswith("f")
            ):
                self._error(client, req, 10300, "key: invalid")
                return
            assert key is not None
            symbol = parts[2]
            echo["key"] = key
            topic = (channel, key)
        else:  # status
            key = req.get("key") if isinstance(req.get("key"), str) else None
            if key != "liq:global":
                target = key[6:] if key and key.startswith("deriv:") else None
                if target is None or target not in self._markets or not self._markets[target].spec.perpetual:
                    if key and key.startswith("deriv:"):
                        # Bitfinex: a status subscription to an unknown contract gets no reply.
                        self._counters["unanswered"] += 1
                        return
                    self._error(client, req, 10300, "key: invalid")
                    return
                symbol = target
            assert key is not None
            echo["key"] = key
            topic = (channel, key)
        existing = client.topics.get(topic)
        if existing is not None:
            self._error(client, req, 10301, "subscribe: dup", {"chanId": existing, **extra})
            return
        if len(client.channels) >= self.max_channels:
            self._error(client, req, 10305, "subscribe: limit", extra)
            return
        chan_id = self._new_chan_id()
        # Bitfinex: event, channel, chanId, symbol / key, prec, freq, len, subId, pair / currency.
        echo = {"event": "subscribed", "channel": channel, "chanId": chan_id, **echo}
        if "subId" in req:
            echo["subId"] = req["subId"]
        echo.update(extra)
        ch = _Channel(chan_id, topic, dict(req), symbol, key, self._mono())
        client.channels[chan_id] = ch
        client.topics[topic] = chan_id
        self._topic_subs.setdefault(topic, set()).add((client.conn.id, chan_id))
        self._counters["subscribed"] += 1
        self._event(client, echo)
        self._send_snapshot(client, ch, topic)

    def _send_snapshot(self, client: _Client, ch: _Channel, topic: tuple[str, ...]) -> None:
        now_ms = self._now_ms()
        channel = topic[0]
        if channel == "ticker":
            self._push(client, ch, self._markets[topic[1]].ticker_text(), now_ms)
        elif channel == "trades":
            m = self._markets[topic[1]]
            body = "[" + ",".join(m.trade_text(t) for t in reversed(m.trades)) + "]"
            self._push(client, ch, body, now_ms)
        elif channel == "book":
            view = self._view(topic)
            view.channels.add((client.conn.id, ch.chan_id))
            self._push(client, ch, view.snapshot_text(), now_ms)
        elif channel == "candles":
            _, tf, symbol = topic[1].split(":", 2)
            m = self._markets[symbol]
            c = m.candles_for(tf, now_ms)
            body = "[" + ",".join(m.candle_text(r) for r in reversed(c.rows)) + "]"
            self._push(client, ch, body, now_ms)
        elif channel == "status" and topic[1] != "liq:global":
            self._push(client, ch, self._status_text(self._markets[topic[1][6:]], now_ms), now_ms)

    def _view(self, topic: tuple[str, ...]) -> _View:
        vkey = (topic[1], topic[2], topic[3], int(topic[4]))
        view = self._views.get(vkey)
        if view is None:
            view = self._views[vkey] = _View(self._markets[topic[1]], topic[2], topic[3], int(topic[4]))
        return view

    def _drop_channel(self, client: _Client, ch: _Channel) -> None:
        client.channels.pop(ch.chan_id, None)
        client.topics.pop(ch.topic, None)
        subs = self._topic_subs.get(ch.topic)
        if subs is not None:
            subs.discard((client.conn.id, ch.chan_id))
            if not subs:
                del self._topic_subs[ch.topic]
        if ch.topic[0] == "book":
            vkey = (ch.topic[1], ch.topic[2], ch.topic[3], int(ch.topic[4]))
            view = self._views.get(vkey)
            if view is not None:
                view.channels.discard((client.conn.id, ch.chan_id))
                if not view.channels:
                    del self._views[vkey]

    def _unsubscribe(self, client: _Client, req: dict[str, Any]) -> None:
        chan_id = req.get("chanId")
        ch = client.channels.get(chan_id) if isinstance(chan_id, int) else None
        if ch is None:
            if isinstance(chan_id, int) and chan_id in client.closed_ids:
                self._error(client, req, 10401, "unsubscribe: not subscribed")
            else:
                self._error(client, req, 10400, "unsubscribe: invalid")
            return
        self._drop_channel(client, ch)
        client.closed_ids.add(ch.chan_id)
        self._counters["unsubscribed"] += 1
        self._event(client, {"event": "unsubscribed", "status": "OK", "chanId": ch.chan_id})

    # ------------------------------------------------------------------ auth
    def _auth(self, client: _Client, req: dict[str, Any]) -> None:
        key = req.get("apiKey") if isinstance(req.get("apiKey"), str) else None
        payload = req.get("authPayload")
        sig = req.get("authSig")
        flt = req.get("filter")
        filters = tuple(str(f) for f in flt) if isinstance(flt, list) else ()
        # Bitfinex: the signature covers whatever authPayload says, which starts with "AUTH";
        # the nonce checked is authNonce (the official Node client sends AUTH<nonce><nonce>,
        # the Python one AUTH<nonce>; both send authNonce).  Without authNonce the digits of
        # the payload are taken.
        raw_nonce = req.get("authNonce")
        nonce: int | None = None
        if isinstance(raw_nonce, int) and not isinstance(raw_nonce, bool):
            nonce = raw_nonce
        elif isinstance(raw_nonce, str) and raw_nonce.isdigit() and len(raw_nonce) <= 20:
            nonce = int(raw_nonce)
        elif raw_nonce is None and isinstance(payload, str):
            match = _RE_PAYLOAD.fullmatch(payload)
            nonce = int(match.group(1)) if match else None

        def fail(code: int, msg: str) -> None:
            attempt = AuthAttempt(client.conn.id, key, nonce, False, code, msg, filters, req.get("dms"))
            self._auth_attempts.append(attempt)
            self._counters["auth_failed"] += 1
            self._event(client, {"event": "auth", "status": "FAILED", "chanId": 0, "code": code, "msg": msg})

        if client.account is not None:
            fail(10100, "auth: dup")
            return
        secret = self._accounts_secrets.get(key) if key is not None else None
        if key is None or secret is None:
            fail(10100, "apikey: invalid")
            return
        if not isinstance(payload, str) or not isinstance(sig, str):
            fail(10100, "apikey: digest invalid")
            return
        expected = hmac.new(secret.encode(), payload.encode(), hashlib.sha384).hexdigest()
        if not hmac.compare_digest(expected, sig.lower()):
            fail(10100, "apikey: digest invalid")
            return
        if nonce is None or nonce < 0 or not payload.startswith("AUTH"):
            fail(10111, "auth: payload invalid")
            return
        # Bitfinex: the nonce must grow for the key, across every connection.
        if nonce <= self._nonces.get(key, -1):
            fail(10114, "nonce: small")
            return
        self._nonces[key] = nonce
        self._auth_attempts.append(AuthAttempt(client.conn.id, key, nonce, True, None, None, filters, req.get("dms")))
        self._counters["auth_ok"] += 1
        account = self._account(key)
        client.account = key
        client.filters = frozenset(filters) if filters else None
        client.last_hb0 = self._mono()
        client.dms = req.get("dms") == 4
        auth_id = uuid.UUID(int=account.rng.getrandbits(128), version=4)
        self._event(
            client,
            {"event": "auth", "status": "OK", "chanId": 0, "userId": account.user_id, "auth_id": str(auth_id),
             "caps": _CAPS},
        )
        now_ms = self._now_ms()
        for kind, data in account.snapshots():
            if self._wants(client, kind, data):
                self._push0(client, kind, _js(data), now_ms)

    def _account(self, key: str) -> _Account:
        """The account of ``key``, created on first use; it outlives its sockets, so orders
        survive a reconnect (unless ``dms`` 4 cancelled them)."""
        account = self._accounts.get(key)
        if account is None:
            account = self._accounts[key] = _Account(
                key, self.seed, self._markets, self._balances.get(key), self._min_sizes
            )
            if account.synthetic:
                account.seed_synthetic(self._now_ms())
        return account

    def _wants(self, client: _Client, kind: str, data: Any) -> bool:
        """Bitfinex auth filters: ``trading``, ``trading-tBTCUSD``, ``funding``, ``funding-fUSD``,
        ``wallet``, ``wallet-exchange-BTC``, ``balance``, ``notify`` (no filter: everything)."""
        filters = client.filters
        if filters is None:
            return True
        for f in filters:
            base, _, detail = f.partition("-")
            types = _FILTER_TYPES.get(base)
            if types is None or kind not in types:
                continue
            if not detail or kind in _SNAPSHOT_TYPES:
                return True
            if base in ("trading", "funding") and self._mentions(data, detail):
                return True
            if base == "wallet" and self._mentions(data, detail.replace("-", "")):
                return True
        return False

    @staticmethod
    def _mentions(data: Any, what: str) -> bool:
        rows = data if isinstance(data, list) and data and isinstance(data[0], list) else [data]
        for row in rows:
            if isinstance(row, list):
                if what in (str(v) for v in row[:4]):
                    return True
                if len(row) > 1 and f"{row[0]}{row[1]}" == what:
                    return True
        return False

    # ------------------------------------------------------------------ channel-0 inputs
    def _handle_input(self, client: _Client, text: str) -> None:
        """Channel-0 inputs ``[0,TYPE,null,DATA]`` of an authenticated socket (loop thread):
        ``on ou oc oc_multi ox_multi calc fon foc``.  Numbers are read exactly from the text."""
        self._counters["inputs"] += 1
        if client.account is None:
            return  # Bitfinex ignores inputs of a socket that is not authenticated
        try:
            frame = json.loads(text, parse_float=Decimal)
        except ValueError:
            return
        if len(frame) < 4 or frame[0] != 0 or not isinstance(frame[1], str):
            return
        kind, body = frame[1], frame[3]
        if kind not in _INPUTS:
            return
        account = self._account(client.account)
        now_ms = self._now_ms()
        cost = len(body) if kind == "ox_multi" and isinstance(body, list) else 1
        if kind != "calc" and not self._rate_ok(account.key, cost):
            self._counters["rate_limited"] += 1
            # Bitfinex answers a refused request with an ERROR notification; the text is the
            # exchange's "ratelimit: error" (code 11010 on REST, ccxt #6384).
            refusal = account.reject(kind, body, "ERROR", "ratelimit: error", now_ms)
            self._broadcast_account(account.key, refusal, now_ms)
            return
        if kind == "on":
            reject = self._pop_fault(self._reject_next, account.key)
            if reject is not None:
                status, reason = reject
                self._counters["orders_rejected_by_fault"] += 1
                self._broadcast_account(account.key, account.reject(kind, body, status, reason, now_ms), now_ms)
                return
        account.last_accepted = None
        events = account.handle(kind, body, now_ms)
        self._counters["orders"] += kind == "on"
        if kind == "on" and account.last_accepted is not None and self._pop_fault(self._drop_next, account.key):
            # The order exists on the exchange; this socket goes down before its notification.
            self._counters["dropped_before_notification"] += 1
            self._abort(client)
            self._broadcast_account(account.key, events, now_ms, skip=client)
            return
        self._broadcast_account(account.key, events, now_ms)

    def _rate_ok(self, key: str, n: int) -> bool:
        """Sliding-window input rate limit per account (``order_rate_limit``)."""
        if self.order_rate_limit is None:
            return True
        limit, window = self.order_rate_limit
        now = self._mono()
        times = self._input_times.setdefault(key, deque())
        while times and now - times[0] >= window:
            times.popleft()
        if len(times) + n > limit:
            return False
        times.extend([now] * n)
        return True

    @staticmethod
    def _pop_fault(faults: dict[str | None, list[T]], key: str) -> T | None:
        for k in (key, None):
            queue = faults.get(k)
            if queue:
                item = queue.pop(0)
                if not queue:
                    del faults[k]
                return item
        return None

    def _abort(self, client: _Client) -> None:
        """Drop a connection without a close frame once the frames queued before are sent."""
        client.outbox.put_nowait(None)

    def _broadcast_account(
        self, key: str, events: Sequence[Out], now_ms: int, *, skip: _Client | None = None
    ) -> None:
        """Send channel-0 messages to every socket of an account (not in maintenance);
        notifications answering a request wait ``delay_notifications`` seconds when set."""
        if self._maintenance or not events:
            return
        delay = self._notify_delay.get(key, self._notify_delay.get(None, 0.0))
        clients = [c for c in self._clients.values() if c.account == key and c is not skip]
        for kind, data, reply in events:
            text = _js(data)
            if reply and kind == "n" and delay > 0:
                loop = asyncio.get_running_loop()
                loop.call_later(delay, self._send_late, [c.conn.id for c in clients], kind, data, text)
                continue
            for client in clients:
                if self._wants(client, kind, data):
                    self._push0(client, kind, text, now_ms, reply=reply)

    def _send_late(self, conn_ids: list[int], kind: str, data: Any, text: str) -> None:
        """A delayed request notification (loop thread)."""
        with self._lock:
            now_ms = self._now_ms()
            for cid in conn_ids:
                client = self._clients.get(cid)
                if client is not None and client.account is not None and self._wants(client, kind, data):
                    self._push0(client, kind, text, now_ms, reply=True)
        self.notify()

    # ------------------------------------------------------------------ ticks
    async def on_tick(self) -> None:
        """Advance every market by one tick and queue the resulting frames (loop thread)."""
        with self._lock:
            self._tick()
        self.notify()

    def _channels_of(self, topic: tuple[str, ...]) -> list[tuple[_Client, _Channel]]:
        out: list[tuple[_Client, _Channel]] = []
        for cid, chan_id in sorted(self._topic_subs.get(topic, ())):
            client = self._clients.get(cid)
            if client is not None:
                ch = client.channels.get(chan_id)
                if ch is not None:
                    out.append((client, ch))
        return out

    def _tick(self) -> None:
        self._ticks += 1
        self._counters["ticks"] = self._ticks
        now_ms = self._now_ms()
        for m in self._markets.values():
            if m.paused:
                m.new_trades = []
                continue
            m.evolve(now_ms)
            self._counters["trades"] += len(m.new_trades)
            self._emit_trades(m, now_ms)
        if not self._maintenance:
            # Resting account orders the moved books now cross fill (as makers).
            for key, account in sorted(self._accounts.items()):
                if account.orders:
                    self._broadcast_account(key, account.match_resting(now_ms), now_ms)
        self._emit_books(now_ms)
        if self._ticks % self.cadence_ticks("ticker") == 0:
            for m in self._markets.values():
                if not m.paused:
                    text = m.ticker_text()
                    for client, ch in self._channels_of(("ticker", m.symbol)):
                        self._push(client, ch, text, now_ms)
        if self._ticks % self.cadence_ticks("status") == 0:
            for topic in [t for t in self._topic_subs if t[0] == "status" and t[1] != "liq:global"]:
                text = self._status_text(self._markets[topic[1][6:]], now_ms)
                for client, ch in self._channels_of(topic):
                    self._push(client, ch, text, now_ms)
        if self._ticks % self.cadence_ticks("liquidation") == 0:
            self._liquidation(now_ms)
        if self._ticks % self.cadence_ticks("account") == 0:
            active = sorted({c.account for c in self._clients.values() if c.account is not None})
            active = [k for k in active if self.account_activity and self._account(k).synthetic]
            for key in active:
                account = self._account(key)
                self._broadcast_account(key, account.synthetic_step(now_ms), now_ms)
        self._heartbeats(now_ms)

    def _emit_trades(self, m: _Market, now_ms: int) -> None:
        pending, m.pending_tu = m.pending_tu, list(m.new_trades)
        topic = ("trades", m.symbol)
        subs = self._channels_of(topic) if topic in self._topic_subs else []
        te, tu = ("fte", "ftu") if m.funding else ("te", "tu")
        for client, ch in subs:
            # Bitfinex: "te" at execution, "tu" for the same trade a little later.
            for t in pending:
                self._push(client, ch, f'"{tu}",{m.trade_text(t)}', now_ms)
            for t in m.new_trades:
                self._push(client, ch, f'"{te}",{m.trade_text(t)}', now_ms)
        if m.new_trades and not m.funding:
            for tf, candles in m.candles.items():
                key = f"trade:{tf}:{m.symbol}"
                for t in m.new_trades:
                    self._candle_trade(m, candles, t)
                text = m.candle_text(candles.rows[-1])
                for client, ch in self._channels_of(("candles", key)):
                    self._push(client, ch, text, now_ms)

    @staticmethod
    def _candle_trade(m: _Market, candles: _Candles, t: _Trade) -> None:
        start = t.mts // candles.tf * candles.tf
        row = candles.rows[-1]
        if start > row[0]:
            candles.rows.append([start, t.tick, t.tick, t.tick, t.tick, 0.0])
            row = candles.rows[-1]
        row[2] = t.tick
        row[3] = max(row[3], t.tick)
        row[4] = min(row[4], t.tick)
        row[5] = round(row[5] + abs(t.units) / 1e8, 8)

    def _emit_books(self, now_ms: int) -> None:
        f1 = self._ticks % self.cadence_ticks("book.F1") == 0
        for view in list(self._views.values()):
            if view.freq == "F1" and not f1:
                continue
            if not view.market.changed and view.freq == "F0":
                continue
            updates = view.refresh()
            if not updates:
                continue
            self._counters["book_updates"] += len(updates)
            for cid, chan_id in sorted(view.channels):
                client = self._clients.get(cid)
                ch = client.channels.get(chan_id) if client is not None else None
                if client is None or ch is None:
                    continue
                self._send_book_updates(client, ch, view, updates, now_ms)
        for m in self._markets.values():
            m.changed = False

    def _send_book_updates(
        self, client: _Client, ch: _Channel, view: _View, updates: list[tuple[str, bool]], now_ms: int
    ) -> None:
        if ch.silenced or self._maintenance:
            return
        texts = [u[0] for u in updates]
        if ch.drop_pending:
            # Drop one update the checksum covers: the client's top 25 can no longer match.
            for i, (_, top) in enumerate(updates):
                if top:
                    del texts[i]
                    ch.drop_pending -= 1
                    self._counters["updates_dropped"] += 1
                    break
        if client.flags & BULK_UPDATES:
            if texts:
                self._push(client, ch, "[" + ",".join(f"[{t}]" for t in texts) + "]", now_ms)
        else:
            for t in texts:
                self._push(client, ch, f"[{t}]", now_ms)
        if client.flags & OB_CHECKSUM:
            cs = view.checksum
            if ch.corrupt_pending:
                ch.corrupt_pending -= 1
                cs = _signed32((cs & 0xFFFFFFFF) ^ 0x5A5A5A5A)
                self._counters["checksums_corrupted"] += 1
            if self._push(client, ch, f'"cs",{cs}', now_ms):
                self._counters["checksums_sent"] += 1

    def _status_text(self, m: _Market, now_ms: int) -> str:
        spot = self._markets.get("t" + m.symbol[1:4] + "USD")
        deriv = m.price_text(m.last)
        spot_text = spot.price_text(spot.last) if spot is not None else deriv
        next_funding = (now_ms // 28_800_000 + 1) * 28_800_000
        rng = self._aux
        insurance = js_number(round(62_210_384.95685668 + rng.uniform(-50, 50), 8))
        accrued = js_number(round(rng.uniform(-0.0002, 0.0002), 8))
        current = js_number(round(rng.uniform(-0.0001, 0.0001), 8))
        mark = js_number(round(float(deriv) * 0.99995, 4))
        open_interest = js_number(round(rng.uniform(5000, 9000), 8))
        # [MTS,_,DERIV_PRICE,SPOT_PRICE,_,INSURANCE_FUND_BALANCE,_,NEXT_FUNDING_EVT_MTS,
        #  NEXT_FUNDING_ACCRUED,NEXT_FUNDING_STEP,_,CURRENT_FUNDING,_,_,MARK_PRICE,_,_,OPEN_INTEREST,
        #  _,_,_,CLAMP_MIN,CLAMP_MAX]
        return (
            f"[{now_ms},null,{deriv},{spot_text},null,{insurance},null,{next_funding},{accrued},"
            f"{rng.randrange(1, 5000)},null,{current},null,null,{mark},null,null,{open_interest},"
            "null,null,null,0.0005,0.0025]"
        )

    def _liquidation(self, now_ms: int) -> None:
        topic = ("status", "liq:global")
        if topic not in self._topic_subs:
            return
        perps = [m for m in self._markets.values() if m.spec.perpetual]
        rng = self._aux
        if not perps or rng.random() < 0.3:
            return
        m = rng.choice(perps)
        self._next_pos += rng.randrange(1, 1000)
        amount = round(rng.choice((1, -1)) * rng.uniform(0.001, 2.0), 8)
        base = round(float(m.price_text(m.last)) * rng.uniform(0.97, 1.03), 6)
        acquired = float(m.price_text(m.last))
        row = _js([["pos", self._next_pos, now_ms, None, m.symbol, amount, base, None, 1, 1, None, acquired]])
        for client, ch in self._channels_of(topic):
            self._push(client, ch, row, now_ms)

    def _heartbeats(self, now_ms: int) -> None:
        now = self._mono()
        for client in list(self._clients.values()):
            for ch in client.channels.values():
                if now - ch.last_hb >= self.hb_interval:
                    ch.last_hb = now
                    if self._push(client, ch, '"hb"', now_ms, data=False):
                        self._counters["heartbeats_sent"] += 1
            if client.account is not None and now - client.last_hb0 >= self.hb_interval:
                client.last_hb0 = now
                text = '[0,"hb"'
                if client.flags & SEQ_ALL:
                    client.pub_seq += 1
                    text += f",{client.pub_seq}"
                if client.flags & TIMESTAMP:
                    text += f",{now_ms}"
                self._enqueue(client, text + "]")
                self._counters["heartbeats_sent"] += 1
            if client.channels or client.account is not None:
                client.idle_since = now
            if (
                self.idle_timeout is not None
                and not client.channels
                and client.account is None
                and now - client.idle_since >= self.idle_timeout
            ):
                transport = client.conn.ws.transport
                if transport is not None:
                    transport.abort()

    # ------------------------------------------------------------------ controls
    def step(self, ticks: int = 1) -> None:
        """Advance the markets by ``ticks`` ticks now and queue their frames; returns when done.

        Runs on the server loop; call from any other thread.  Works with or without the
        automatic ticker (``tick_interval=None`` makes tests deterministic).

        Raises:
            RuntimeError: the simulator is not started.
            ValueError: ``ticks`` < 1.
        """
        if ticks < 1:
            raise ValueError(f"ticks must be >= 1, got {ticks!r}")

        async def go() -> None:
            for _ in range(ticks):
                await self.on_tick()

        self.call(go)

    def _targets(self, conn_id: int | None) -> list[_Client]:
        if conn_id is not None and conn_id not in self._clients:
            raise ValueError(f"no connection {conn_id!r}; connected: {sorted(self._clients)}")
        return [c for cid, c in sorted(self._clients.items()) if conn_id is None or cid == conn_id]

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
            targets = self._targets(conn_id)
            if code == 20060:
                self._maintenance = True
                self._platform_status = 0
            elif code == 20061:
                self._maintenance = False
                self._platform_status = 1
            for client in targets:
                self._event(client, {"event": "info", "code": code, "msg": text})
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
            return self._maintenance

    def set_platform_status(self, status: int) -> None:
        """``platform.status`` written in the ``info`` frame of new connections (1 operative,
        0 maintenance).  Any thread."""
        with self._lock:
            self._platform_status = status

    def _match_channels(
        self,
        chan_id: int | None,
        channel: str | None,
        symbol: str | None,
        conn_id: int | None,
        books_only: bool = False,
    ) -> list[_Channel]:
        out: list[_Channel] = []
        for client in self._targets(conn_id):
            for ch in client.channels.values():
                if chan_id is not None and ch.chan_id != chan_id:
                    continue
                if channel is not None and ch.topic[0] != channel:
                    continue
                if symbol is not None and symbol not in (ch.symbol, ch.key):
                    continue
                if books_only and ch.topic[0] != "book":
                    continue
                out.append(ch)
        return out

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
            matched = self._match_channels(chan_id, channel, symbol, conn_id)
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
            matched = self._match_channels(None, "book", symbol, conn_id)
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
            targets = self._targets(conn_id)
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

    def silence_connection(self, conn_id: int, silent: bool = True) -> None:
        """Stop (or resume) sending anything to one client.  Frames produced meanwhile are lost
        as on a dead link (they keep their sequence numbers, so a gap shows).  Any thread.

        Raises:
            ValueError: no such connection.
        """
        with self._lock:
            self._targets(conn_id)[0].conn.silent = silent

    def send_raw(self, text: str, *, conn_id: int | None = None) -> int:
        """Queue ``text`` as is to every client (or ``conn_id``), in order with its data (unlike
        :meth:`inject`, which jumps the queue); returns how many got it.  Any thread.

        Raises:
            ValueError: no such connection.
        """

        def go() -> int:
            targets = self._targets(conn_id)
            for client in targets:
                self._enqueue(client, text)
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
                if api_key in self._accounts:
                    raise ValueError(f"account {api_key!r} already exists; use set_balance()")
                self._balances[api_key] = balances
            self._accounts_secrets[api_key] = api_secret

    # ------------------------------------------------------------------ trading accounts
    def _existing(self, api_key: str) -> _Account:
        if api_key not in self._accounts_secrets:
            raise ValueError(f"unknown account {api_key!r}")
        return self._account(api_key)

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
            self._broadcast_account(account.key, account.set_balance(wallet, currency, value), self._now_ms())

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
            for account in self._accounts.values():
                o = account.orders.get(order_id)
                if o is not None:
                    self._broadcast_account(account.key, account.fill(o, size, self._now_ms()), self._now_ms())
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
            self._reject_next.setdefault(api_key, []).extend([(status, text)] * count)

    def drop_before_notification(self, count: int = 1, *, api_key: str | None = None) -> None:
        """For the next ``count`` accepted new orders (``on`` inputs) of ``api_key`` (or of any account): the
        order is created (and executes and rests as usual), then the socket that sent it is
        dropped without a close frame before its ``n`` / ``on`` go out.  Other sockets of the
        account get them.  After a reconnect the ``os`` snapshot shows the order if it is
        still open.  Any thread.

        Raises:
            ValueError: ``count`` < 1.
        """
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count!r}")
        with self._lock:
            self._drop_next.setdefault(api_key, []).extend([True] * count)

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
            self._notify_delay[api_key] = float(seconds)

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

        def go() -> int:
            now_ms = self._now_ms()
            data = [now_ms, kind, None, None, info, None, status, text]
            body = _js(data)
            sent = 0
            for client in list(self._clients.values()):
                if client.account is None or (api_key is not None and client.account != api_key):
                    continue
                if self._wants(client, "n", data):
                    self._push0(client, "n", body, now_ms)
                    sent += 1
            return sent

        return self._run_locked(go)

    # ------------------------------------------------------------------ introspection
    def subscriptions(self, conn_id: int | None = None) -> dict[int, dict[int, dict[str, Any]]]:
        """connection id -> chanId -> the subscribe request as received, for every connected
        client (or just ``conn_id``).  Any thread."""
        with self._lock:
            return {
                cid: {chan: dict(ch.request) for chan, ch in c.channels.items()}
                for cid, c in self._clients.items()
                if conn_id is None or cid == conn_id
            }

    def channel_count(self, conn_id: int | None = None) -> int:
        """Channels subscribed right now on every connection (or ``conn_id``).  Any thread."""
        with self._lock:
            return sum(len(c.channels) for cid, c in self._clients.items() if conn_id is None or cid == conn_id)

    def chan_id(self, conn_id: int, channel: str, symbol: str) -> int | None:
        """The chanId of ``channel`` on ``symbol`` (or candles/status key) of a connection, the
        first if there are several books; ``None`` if not subscribed.  Any thread."""
        with self._lock:
            client = self._clients.get(conn_id)
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
            return sorted(self._clients)

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

    def nonces(self) -> dict[str, int]:
        """The last nonce accepted per API key.  Any thread."""
        with self._lock:
            return dict(self._nonces)

    def auth_attempts(self) -> list[AuthAttempt]:
        """Every ``auth`` event received, oldest first.  Any thread."""
        with self._lock:
            return list(self._auth_attempts)

    def authenticated(self, conn_id: int) -> str | None:
        """The API key a connection is authenticated with, or ``None``.  Any thread."""
        with self._lock:
            client = self._clients.get(conn_id)
            return client.account if client is not None else None

    def flags(self, conn_id: int) -> int:
        """The ``conf`` flags of a connection (0 before any ``conf``).  Any thread.

        Raises:
            ValueError: no such connection.
        """
        with self._lock:
            return self._targets(conn_id)[0].flags

    def counters(self) -> dict[str, int]:
        """A copy of the counters: ``ticks``, ``subscribed``, ``unsubscribed``, ``errors_sent``,
        ``book_updates``, ``checksums_sent``, ``heartbeats_sent``, ``trades``, ``auth_ok``,
        ``auth_failed``, ``info_sent``, ``updates_dropped``, ``checksums_corrupted``,
        ``frames_queued``, ``slow_consumers``, ``unanswered``, ``inputs`` (channel-0 frames
        received), ``orders`` (``on`` inputs handled), ``rate_limited``,
        ``orders_rejected_by_fault``, ``dropped_before_notification``, ``dms_cancels``.  Any
        thread."""
        with self._lock:
            return dict(self._counters)

    def queued_frames(self) -> int:
        """Frames queued for clients and not yet taken by their writers (approximate).  Any thread."""
        with self._lock:
            return sum(c.outbox.qsize() for c in self._clients.values())

