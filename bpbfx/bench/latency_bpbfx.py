"""The bpbfx bots of the tick-to-order benchmark: the public API, as a user writes it.

- :class:`BpbfxBitfinex`: a :class:`~bpbfx.bitfinex.BitfinexClient` with keys, subscribed to
  ``trades:tBTCUSD`` and ``book:tBTCUSD:P0:F0:25`` (a managed book); its ``on_message`` sees the
  trigger ``TradeUpdate`` and calls ``client.submit_order(...)`` (validation, a generated
  ``cid``, the order core, the frame written on the reader thread).
- :class:`BpbfxBackpack`: a :class:`~bpbfx.backpack.BackpackClient` with keys and ``rest_url``,
  subscribed to ``trade.SOL_USDC`` and ``depth.SOL_USDC`` (a managed book); ``on_message`` sees the
  trigger ``Trade`` and calls ``client.submit_order(...)`` (validation against the market's
  rules, a generated ``clientId``, the request signed and written on the reader thread, the
  answer read on the client's orders thread).

``books=False`` leaves the books unmanaged (their frames still decoded into typed events and
delivered to ``on_message``): what the verified book costs.  Both run with the library's
defaults but for the local order-rate limits, raised because the
benchmark sends more orders than the exchanges' limits allow in its time (the server has none),
and Backpack's ``stream_timeout``, off because the idle runs publish no depth for minutes.
"""

from __future__ import annotations

import concurrent.futures
from typing import Any

from .latency_bare import Health
from .latency_wire import (
    BF_BOOK,
    BF_ORDER_AMOUNT,
    BF_SYMBOL,
    BF_TRADES,
    BF_TRIGGER_AMOUNT,
    BP_DEPTH,
    BP_ORDER_QUANTITY,
    BP_SYMBOL,
    BP_TRADE,
    BP_TRIGGER_QUANTITY,
)

__all__ = ["BpbfxBackpack", "BpbfxBitfinex"]

_RATE_LIMIT = (1_000_000, 60.0)
_SETTLE_TIMEOUT = 10.0


class _Bot:
    """A bpbfx client and the health of the orders its ``on_message`` sent."""

    client: Any

    def __init__(self) -> None:
        self.health = Health()

    def on_error(self, client: Any, error: BaseException) -> None:
        """Count a problem (a client thread)."""
        self.health.errors.append(f"{type(error).__name__}: {error}")

    def sent(self, handle: concurrent.futures.Future[Any]) -> None:
        """Count an order the callback submitted (after it has left) and its answer."""
        health = self.health
        health.order_sent()
        handle.add_done_callback(lambda done: health.order_answered(done.exception() is None))

    def start(self, timeout: float) -> None:
        """Start the client and wait until it is ready.

        Raises:
            RuntimeError: not ready within ``timeout`` seconds.
        """
        self.client.start()
        if not self.client.wait_ready(timeout):
            raise RuntimeError(f"{type(self.client).__name__} not ready: {self.client.readiness()}")

    def stop(self, orders: int = 0) -> Health:
        """Wait until ``orders`` orders are sent and answered (10 s at most), close the client and
        say how it went."""
        self.health.settle(orders, _SETTLE_TIMEOUT)
        self.client.close()
        return self.health


class BpbfxBitfinex(_Bot):
    """The bpbfx Bitfinex bot (see the module docstring)."""

    def __init__(self, url: str, api_key: str, api_secret: str, books: bool = True) -> None:
        super().__init__()
        from ..bitfinex import BitfinexClient
        from ..bitfinex.events import TradeUpdate

        sent = self.sent
        trigger = BF_TRIGGER_AMOUNT

        def on_message(client: Any, event: Any) -> None:
            if type(event) is TradeUpdate and event.trade.amount >= trigger:
                sent(client.submit_order(BF_SYMBOL, BF_ORDER_AMOUNT, event.trade.price))

        self.client = BitfinexClient(
            url, api_key=api_key, api_secret=api_secret, order_rate_limit=_RATE_LIMIT, books=books,
            on_message=on_message, on_error=self.on_error,
        )
        self.client.subscribe(BF_TRADES)
        self.client.subscribe(BF_BOOK)


class BpbfxBackpack(_Bot):
    """The bpbfx Backpack bot (see the module docstring)."""

    def __init__(self, url: str, rest_url: str, api_secret: str, books: bool = True) -> None:
        super().__init__()
        from ..backpack import BackpackClient
        from ..backpack.events import Trade

        sent = self.sent
        trigger = BP_TRIGGER_QUANTITY

        def on_message(client: Any, event: Any) -> None:
            if type(event) is Trade and event.quantity >= trigger:
                sent(client.submit_order(BP_SYMBOL, "Bid", BP_ORDER_QUANTITY, event.price))

        self.client = BackpackClient(
            url, rest_url=rest_url, streams=[BP_TRADE, BP_DEPTH], api_secret=api_secret, books=books,
            order_rate_limit=_RATE_LIMIT, stream_timeout=None, on_message=on_message, on_error=self.on_error,
        )

    def start(self, timeout: float) -> None:
        """Start, wait until ready, and read the market's rules once (as a bot does at start)."""
        super().start(timeout)
        self.client.market_rules(BP_SYMBOL)
