"""The demo's scenario: both simulators, a client per exchange with books, a cross-exchange
quote feed, an order round trip on a simulated account of each exchange, and one injected fault
per exchange (Backpack: every socket dropped; Bitfinex: info 20051, server restarting), each
recorded on the :class:`~.state.Timeline` with its recovery."""

from __future__ import annotations

import contextlib
import threading
import time
from decimal import Decimal
from typing import Any, ClassVar

from ...backoff import Backoff
from ...factory import ApiKeys
from ..session import build_client, start_sim
from .state import ExchangePanel, Notices, Timeline

__all__ = ["Scenario"]

_FAULTS = {
    "backpack": "socket dropped",
    "bitfinex": "info 20051 (server restarting)",
}


class Scenario:
    """Everything the demo runs; :meth:`setup` starts it, :meth:`inject_faults` is called by
    the main loop, :meth:`summary` says how it went.  Main thread, except the hooks (clients'
    threads) and the order round trip (its own thread)."""

    BACKPACK_STREAMS = ("depth.SOL_USDC", "trade.SOL_USDC", "depth.BTC_USDC", "trade.BTC_USDC")
    BITFINEX_STREAMS = ("trades:tBTCUSD", "book:tBTCUSD:P0:F0:25", "trades:tETHUSD", "book:tETHUSD:P0:F0:25")
    # The cross-exchange line: one market both simulators serve, by unified symbol (Backpack
    # BTC_USDT is added at the Bitfinex simulator's tBTCUST price).
    CROSS_SYMBOL = "BTC/USDT"
    DEMO_KEYS = ApiKeys("demo-key", "demo-secret")  # the simulated Bitfinex trading account
    # The simulated Backpack trading account: any key pair whose signatures verify (fixed, so
    # every run is alike; it trades only on the simulator).
    BACKPACK_SEED = "4odxgSUxFrC/zsKWZF4OQwYAgnNu9hnWH3NxWfLAPz4="
    DEMO_BALANCES: ClassVar[dict[str, dict[str, str]]] = {"exchange": {"USD": "100000", "BTC": "1"}}

    def __init__(self, duration: float | None) -> None:
        from ...feed import BestQuotes

        self.duration = duration
        self.started = time.monotonic()
        self.notices = Notices(self.started)
        self.timeline = Timeline(self.started)
        if duration is not None:
            self.fault_times = {"backpack": max(1.5, 0.3 * duration), "bitfinex": max(2.5, 0.5 * duration)}
        else:
            self.fault_times = {"backpack": 6.0, "bitfinex": 10.0}
        self.injected: set[str] = set()
        self.panels: dict[str, ExchangePanel] = {}
        self.sims: dict[str, Any] = {}
        self.cross = BestQuotes(self.CROSS_SYMBOL)

    def elapsed(self) -> float:
        """Seconds since the demo started."""
        return time.monotonic() - self.started

    # ------------------------------------------------------------------ setup
    def setup(self, stack: contextlib.ExitStack) -> None:
        """Start simulators, clients, the trader and the cross feed; ``stack`` stops them.

        Raises:
            CommandError: a simulator could not start.
        """
        from ...feed import Feed

        backoff = Backoff(initial=0.3, cap=3.0)
        for exchange, streams in (("backpack", self.BACKPACK_STREAMS), ("bitfinex", self.BITFINEX_STREAMS)):
            keys = self.DEMO_KEYS if exchange == "bitfinex" else None
            sim = start_sim(exchange, streams, extra_markets=self._cross_markets(exchange), keys=keys,
                            balances=self.DEMO_BALANCES if keys else None)
            stack.callback(sim.stop)
            self.sims[exchange] = sim
            panel = ExchangePanel(exchange, sim.url, self.notices, self.timeline)
            self.panels[exchange] = panel
            hooks = {
                "on_message": panel.on_message,
                "on_error": panel.on_error,
                "on_open": panel.on_open,
                "on_reconnect": panel.on_reconnect,
                "on_book": panel.on_book,
                "backoff": backoff,
            }
            client = build_client(exchange, streams, url=sim.url, rest_url=getattr(sim, "http_url", None),
                                  books=True, hooks=hooks)
            panel.client = client
            stack.callback(client.close)
        for panel in self.panels.values():
            assert panel.client is not None
            panel.client.start()
        self._start_trading(stack, backoff)
        cross = Feed.quotes(
            self.CROSS_SYMBOL,
            on_quote=self.cross.on_quote,
            on_error=lambda client, exc: None,  # the panels above report the faults
            urls={name: sim.url for name, sim in self.sims.items()},
            rest_url=self.sims["backpack"].http_url,
            backoff=backoff,
        )
        stack.callback(cross.close)
        cross.start()

    def _cross_markets(self, exchange: str) -> tuple[Any, ...]:
        if exchange != "backpack":
            return ()
        from ...sim.backpack import MarketSpec

        return (MarketSpec("BTC_USDT", Decimal("118950.0"), Decimal("0.1"), Decimal("0.00001"), Decimal("0.3")),)

    # ------------------------------------------------------------------ the order round trip
    def _start_trading(self, stack: contextlib.ExitStack, backoff: Backoff) -> None:
        """A small order round trip on each simulated trading account: a limit buy far below
        the market, its acknowledgement, (Bitfinex) an update, and a cancel."""
        from ...backpack.auth import Signer

        quiet = {"backoff": backoff, "on_error": lambda client, exc: None}  # the round trips show outcomes
        traders = {
            "bitfinex": build_client(
                "bitfinex", ["account"], url=self.sims["bitfinex"].url, rest_url=self.sims["bitfinex"].http_url,
                keys=self.DEMO_KEYS,
                hooks={**quiet, "name": "bitfinex-trader"},
            ),
            "backpack": build_client(
                "backpack", [], url=self.sims["backpack"].url, rest_url=self.sims["backpack"].http_url,
                keys=ApiKeys(Signer(self.BACKPACK_SEED).verifying_key, self.BACKPACK_SEED),
                hooks={**quiet, "name": "backpack-trader"},
            ),
        }
        for exchange, trader in traders.items():
            stack.callback(trader.close)  # also fails a request still waiting, ending the thread below
            trader.start()
            trip = self._bitfinex_round_trip if exchange == "bitfinex" else self._backpack_round_trip
            thread = threading.Thread(target=self._round_trip, args=(exchange, trader, trip),
                                      name=f"demo-orders-{exchange}", daemon=True)
            thread.start()
            stack.callback(thread.join, 5.0)

    def _best_bid(self, exchange: str, trader: Any, book: str) -> Decimal | None:
        """The best bid of the demo's book ``book`` once ``trader`` is ready (10 s at most)."""
        book_client = self.panels[exchange].client
        assert book_client is not None
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline and not trader.closed:
            try:
                best = book_client.book(book).best_bid()  # type: ignore[attr-defined]
            except KeyError:
                best = None
            if best is not None and trader.ready:
                return Decimal(best.price)
            time.sleep(0.05)
        return None

    def _round_trip(self, exchange: str, trader: Any, trip: Any) -> None:
        """Runs on its own thread; every step is an event line, the whole trip a milestone."""
        from ...exceptions import OrderError

        bid = self._best_bid(exchange, trader, "tBTCUSD" if exchange == "bitfinex" else "depth.SOL_USDC")
        if bid is None:
            item = self.timeline.add(exchange, "order round trip")
            self.timeline.finish(item, "skipped: no authenticated account or no bid", ok=False)
            self.notices.add(exchange, "order round trip skipped: no authenticated account or no bid", warn=True)
            return
        try:
            trip(trader, bid)  # finishes its own milestone, also when it fails
        except OrderError as exc:
            if not trader.closed:
                self.notices.add(exchange, f"order round trip failed: {type(exc).__name__}: {exc}", warn=True)

    def _bitfinex_round_trip(self, trader: Any, bid: Decimal) -> None:
        say = self.notices.add
        price = (bid / 2).quantize(Decimal(1).scaleb((bid / 2).adjusted() - 4))  # 5 significant digits
        placed = time.monotonic()
        item = self.timeline.add("bitfinex", "order round trip", f"buy 0.001 tBTCUSD @ {price}", at=placed)
        try:
            req = trader.submit_order("tBTCUSD", "0.001", price)
            order = req.result(timeout=10)
            acked = time.monotonic()
            say("bitfinex", f"order: buy 0.001 tBTCUSD @ {price} confirmed, id {order.id} (cid {req.cid})")
            lower = (price * Decimal("0.99")).quantize(Decimal(1).scaleb(price.adjusted() - 4))
            order = trader.update_order(order.id, price=lower).result(timeout=10)
            say("bitfinex", f"order: {order.id} moved to {order.price}")
            order = trader.cancel_order(order.id).result(timeout=10)
            done = time.monotonic()
            say("bitfinex", f"order: {order.id} cancelled ({order.status}); open orders: {len(trader.orders())}")
        except BaseException as exc:
            self.timeline.finish(item, f"failed: {type(exc).__name__}", ok=False)
            raise
        self.timeline.finish(
            item,
            f"placed, acknowledged in {(acked - placed) * 1000:.0f} ms, moved, cancelled in "
            f"{(done - placed) * 1000:.0f} ms",
        )

    def _backpack_round_trip(self, trader: Any, bid: Decimal) -> None:
        say = self.notices.add
        price = (bid * Decimal("0.8")).quantize(Decimal("0.01"))
        placed = time.monotonic()
        item = self.timeline.add("backpack", "order round trip", f"bid 0.5 SOL_USDC @ {price}", at=placed)
        try:
            req = trader.submit_order("SOL_USDC", "Bid", "0.5", price, post_only=True)
            order = req.result(timeout=10)
            acked = time.monotonic()
            say("backpack", f"order: bid 0.5 SOL_USDC @ {price} placed over REST, id {order.id} "
                            f"(clientId {req.client_id})")
            order = trader.cancel_order("SOL_USDC", order.id).result(timeout=10)
            done = time.monotonic()
            say("backpack", f"order: {order.id} cancelled ({order.status}); open orders: {len(trader.orders())}")
        except BaseException as exc:
            self.timeline.finish(item, f"failed: {type(exc).__name__}", ok=False)
            raise
        self.timeline.finish(
            item,
            f"placed, answered in {(acked - placed) * 1000:.0f} ms, cancelled in {(done - placed) * 1000:.0f} ms",
        )

    # ------------------------------------------------------------------ faults
    def inject_faults(self, elapsed: float) -> None:
        """Inject each exchange's fault once its time has come and its books are in sync, so
        that what follows is a recovery (main thread)."""
        for exchange, at in self.fault_times.items():
            if exchange in self.injected or elapsed < at or not self.panels[exchange].all_synced():
                continue
            self.injected.add(exchange)
            self.panels[exchange].begin_fault(_FAULTS[exchange])
            sim = self.sims[exchange]
            if exchange == "backpack":
                self.notices.add(exchange, "fault: the simulator drops every connection", warn=True)
                sim.drop_connections()
            else:
                self.notices.add(exchange, "fault: the simulator sends info 20051 (server restarting)", warn=True)
                sim.send_info(20051)

    # ------------------------------------------------------------------ outcome
    def summary(self) -> tuple[str, bool]:
        """One line saying how the run went, and whether it went well: every exchange
        delivered and kept delivering, no real error, every injected fault recovered from (a
        fault injected less than 5 s before the end may still be recovering)."""
        ok = True
        parts = []
        problems = []
        faults = []
        for name, panel in self.panels.items():
            assert panel.client is not None
            s = panel.client.stats()
            parts.append(
                f"{name} {s.messages} msgs, {s.reconnects} reconnects, {s.book_checks} book checks, "
                f"{panel.resyncs} book resyncs, {panel.errors} errors"
            )
            if s.messages == 0:
                problems.append(f"{name} never delivered")
            elif s.last_message_age is not None and s.last_message_age > 5.0:
                problems.append(f"{name} stopped delivering {s.last_message_age:.0f}s ago")
            if panel.errors:
                problems.append(f"{name}: {panel.last_error}")
            for item in panel.faults:
                what = item.what.removeprefix("injected: ")
                if item.outcome:
                    faults.append(f"{name} {what} -> {item.outcome.split(',')[0]}")
            late = self.elapsed() - self.fault_times[name]
            if name not in self.injected and late > 5.0:
                problems.append(f"{name} books never all synced, so its fault was not injected")
            pending = panel.unrecovered()
            if pending is not None:
                item, since = pending
                what = item.what.removeprefix("injected: ")
                faults.append(f"{name} {what} -> still recovering after {since:.1f} s")
                if since > 5.0:
                    problems.append(f"{name} did not recover from the injected {what}")
        ok = not problems
        head = "OK" if ok else "FAILED (" + "; ".join(problems) + ")"
        injected = "; injected faults: " + ", ".join(faults) if faults else ""
        return f"bpbfx demo: {head} after {self.elapsed():.1f}s: " + "; ".join(parts) + injected, ok
