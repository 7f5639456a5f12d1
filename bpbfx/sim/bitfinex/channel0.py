"""Channel 0 of the Bitfinex simulator: the accounts, by API key, and what their
authenticated sockets exchange with them.

Inputs ``[0,TYPE,null,DATA]`` (``on ou oc oc_multi ox_multi calc fon foc``) go to the
account's order engine (:mod:`~bpbfx.sim.bitfinex.orders`), rate limited per account;
the messages it returns go to every socket of the account, filtered as each socket chose
(:func:`~bpbfx.sim.bitfinex.auth.wants`), with the armed faults (refused orders, a socket
dropped before its notification, late notifications, maintenance).  Used under the
simulator's lock on its loop thread.
"""

from __future__ import annotations

import functools
import json
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import bpbfx.sim.bitfinex.execution as execution
import bpbfx.sim.bitfinex.orders as orders
from bpbfx.sim.bitfinex.accounts import _Account
from bpbfx.sim.bitfinex.auth import wants
from bpbfx.sim.bitfinex.clients import _Client
from bpbfx.sim.bitfinex.faults import Faults
from bpbfx.sim.bitfinex.market import _Market
from bpbfx.sim.bitfinex.records import Out, _LiveOrder
from bpbfx.sim.bitfinex.subscriptions import Subscriptions
from bpbfx.sim.bitfinex.wire import _js

__all__: list[str] = []

_INPUTS = frozenset({"on", "ou", "oc", "oc_multi", "ox_multi", "calc", "fon", "foc"})

#: API key -> ``{wallet: {currency: amount}}`` of a trading account.
Balances = Mapping[str, Mapping[str, Decimal | str | int]]


class Channel0:
    """The accounts and their sockets' channel 0.

    ``balances``: the starting wallets of trading accounts (others are synthetic);
    ``min_sizes``: minimum order size per trading symbol; ``clock_ms`` the wall clock in ms,
    ``mono`` the monotonic clock of the rate limit; ``later(delay, fn)`` runs ``fn`` under
    the lock later (late notifications); ``counters`` (the simulator's) counts ``inputs``,
    ``orders``, ``rate_limited``, ``orders_rejected_by_fault``,
    ``dropped_before_notification``, ``orders_lost`` and ``dms_cancels``.
    """

    def __init__(
        self,
        seed: int,
        markets: Mapping[str, _Market],
        balances: dict[str, Balances],
        min_sizes: dict[str, Decimal],
        subs: Subscriptions,
        faults: Faults,
        clock_ms: Callable[[], int],
        mono: Callable[[], float],
        later: Callable[[float, Callable[[], None]], None],
        counters: dict[str, int],
    ) -> None:
        self.seed = seed
        self.markets = markets
        self.balances = balances
        self.min_sizes = min_sizes
        self.subs = subs
        self.faults = faults
        self.clock_ms = clock_ms
        self.mono = mono
        self.later = later
        self.counters = counters
        self.accounts: dict[str, _Account] = {}
        self._input_times: dict[str, deque[float]] = {}
        self.on_inputs: Counter[tuple[str, int]] = Counter()  # (API key, cid) -> `on` inputs received

    # ------------------------------------------------------------------ accounts
    def account(self, key: str) -> _Account:
        """The account of ``key``, created on first use; it outlives its sockets, so orders
        survive a reconnect (unless ``dms`` 4 cancelled them)."""
        account = self.accounts.get(key)
        if account is None:
            balances = self.balances.get(key)
            account = self.accounts[key] = _Account(key, self.seed, self.markets, balances, self.min_sizes)
            if account.synthetic:
                account.seed_synthetic(self.clock_ms())
        return account

    def disconnected(self, client: _Client) -> None:
        """A socket has gone: with ``dms`` 4 its account's orders are cancelled."""
        if client.account is not None and client.dms:
            # Bitfinex auth "dms": 4 -> "when socket is closed, cancel all account orders".
            account = self.account(client.account)
            events = orders.cancel_all(account, self.clock_ms())
            self.counters["dms_cancels"] += sum(1 for e in events if e[0] == "oc")
            self.broadcast(account.key, events, self.clock_ms())

    def match_resting(self, now_ms: int) -> None:
        """Fill (as makers) the resting orders the moved books now cross (not in maintenance)."""
        if self.faults.maintenance:
            return
        for key, account in sorted(self.accounts.items()):
            if account.orders:
                self.broadcast(key, execution.match_resting(account, now_ms), now_ms)

    def synthetic_activity(self, now_ms: int) -> None:
        """One step of invented activity on every synthetic account with a socket."""
        active = sorted({c.account for c in self.subs.clients.values() if c.account is not None})
        for key in [k for k in active if self.account(k).synthetic]:
            account = self.account(key)
            self.broadcast(key, account.synthetic_step(now_ms), now_ms)

    # ------------------------------------------------------------------ inputs
    def handle_input(self, client: _Client, text: str, rate_limit: tuple[int, float] | None) -> None:
        """Channel-0 inputs ``[0,TYPE,null,DATA]`` of an authenticated socket (loop thread):
        ``on ou oc oc_multi ox_multi calc fon foc``.  Numbers are read exactly from the text.
        ``rate_limit``: ``(inputs, seconds)`` per account, ``None`` for no limit."""
        self.counters["inputs"] += 1
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
        account = self.account(client.account)
        now_ms = self.clock_ms()
        self._count_new_orders(account.key, kind, body)
        cost = len(body) if kind == "ox_multi" and isinstance(body, list) else 1
        if kind != "calc" and not self._rate_ok(account.key, cost, rate_limit):
            self.counters["rate_limited"] += 1
            # Bitfinex answers a refused request with an ERROR notification; the text is the
            # exchange's "ratelimit: error" (code 11010 on REST, ccxt #6384).
            refusal = orders.reject(account, kind, body, "ERROR", "ratelimit: error", now_ms)
            self.broadcast(account.key, refusal, now_ms)
            return
        if kind == "on" and self.faults.take_loss(account.key):
            # The input never reaches the matching engine: its socket dies as it arrives.
            self.counters["orders_lost"] += 1
            client.outbox.abort_after()
            return
        if kind == "on":
            reject = self.faults.take_reject(account.key)
            if reject is not None:
                status, reason = reject
                self.counters["orders_rejected_by_fault"] += 1
                self.broadcast(account.key, orders.reject(account, kind, body, status, reason, now_ms), now_ms)
                return
        account.last_accepted = None
        events = orders.handle(account, kind, body, now_ms)
        self.counters["orders"] += kind == "on"
        accepted = account.last_accepted
        if kind == "on" and accepted is not None:
            drop, then = self.faults.take_drop(account.key)
            if drop:
                # The order exists on the exchange; this socket goes down before its notification.
                self.counters["dropped_before_notification"] += 1
                client.outbox.abort_after()
                self.broadcast(account.key, events, now_ms, skip=client)
                self._while_down(account, accepted, then, now_ms, client)
                return
        self.broadcast(account.key, events, now_ms)

    def _while_down(self, account: _Account, order: _LiveOrder, then: str | None, now_ms: int, client: _Client) -> None:
        """What happens to an order whose socket was just dropped, before the client is back:
        ``"fill"`` executes what is left (as maker, at its price), ``"cancel"`` cancels it."""
        if then is None or order.id is None or order.id not in account.orders:
            return
        if then == "fill":
            events = execution.fill(account, order, None, now_ms)
        else:
            events = execution.close(account, order, "CANCELED", now_ms)
        self.broadcast(account.key, events, now_ms, skip=client)

    def _count_new_orders(self, key: str, kind: str, body: Any) -> None:
        """Count the ``on`` inputs received per cid (alone or inside an ``ox_multi``)."""
        if kind == "on":
            ops = [body]
        elif kind == "ox_multi" and isinstance(body, list):
            ops = [op[1] for op in body if isinstance(op, list) and len(op) == 2 and op[0] == "on"]
        else:
            return
        for op in ops:
            cid = op.get("cid") if isinstance(op, dict) else None
            if isinstance(cid, int) and not isinstance(cid, bool):
                self.on_inputs[(key, cid)] += 1

    def _rate_ok(self, key: str, n: int, rate_limit: tuple[int, float] | None) -> bool:
        """Sliding-window input rate limit per account (``order_rate_limit``)."""
        if rate_limit is None:
            return True
        limit, window = rate_limit
        now = self.mono()
        times = self._input_times.setdefault(key, deque())
        while times and now - times[0] >= window:
            times.popleft()
        if len(times) + n > limit:
            return False
        times.extend([now] * n)
        return True

    # ------------------------------------------------------------------ outputs
    def broadcast(self, key: str, events: Sequence[Out], now_ms: int, *, skip: _Client | None = None) -> None:
        """Send channel-0 messages to every socket of an account (not in maintenance);
        notifications answering a request wait ``delay_notifications`` seconds when set.  Closed
        orders and fills go to the account's history in any case."""
        if not events:
            return
        history = self.account(key).history
        texts = [_js(data) for _, data, _ in events]
        for (kind, data, _), text in zip(events, texts, strict=True):
            history.record(kind, data, text)
        if self.faults.maintenance:
            return
        delay = self.faults.delay(key)
        clients = [c for c in self.subs.clients.values() if c.account == key and c is not skip]
        for (kind, data, reply), text in zip(events, texts, strict=True):
            if reply and kind == "n" and delay > 0:
                self.later(delay, functools.partial(self._send_late, [c.conn.id for c in clients], kind, data, text))
                continue
            for client in clients:
                if wants(client, kind, data):
                    client.channel0(kind, text, now_ms, reply=reply)

    def _send_late(self, conn_ids: list[int], kind: str, data: Any, text: str) -> None:
        """A delayed request notification (loop thread, under the lock)."""
        now_ms = self.clock_ms()
        for cid in conn_ids:
            client = self.subs.clients.get(cid)
            if client is not None and client.account is not None and wants(client, kind, data):
                client.channel0(kind, text, now_ms, reply=True)

    def notify_sockets(self, kind: str, text: str, api_key: str | None, info: Any, status: str | None) -> int:
        """Send a notification that answers no request to every authenticated socket (or those
        of ``api_key``); how many got it."""
        now_ms = self.clock_ms()
        data = [now_ms, kind, None, None, info, None, status, text]
        body = _js(data)
        sent = 0
        for client in list(self.subs.clients.values()):
            if client.account is None or (api_key is not None and client.account != api_key):
                continue
            if wants(client, "n", data):
                client.channel0("n", body, now_ms)
                sent += 1
        return sent
