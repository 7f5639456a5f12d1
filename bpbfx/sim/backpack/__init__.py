"""A local Backpack Exchange: WebSocket streams, the public REST endpoints and the signed
trading endpoints (in front of an order engine) on 127.0.0.1.

The package's parts: :mod:`~bpbfx.sim.backpack.wire` (error frames, stream names, number
text, event times), :mod:`~bpbfx.sim.backpack.market` (markets and their evolving books,
the public trade tape), :mod:`~bpbfx.sim.backpack.feeds` (market data on each tick, cadences),
:mod:`~bpbfx.sim.backpack.accounts` (private stream events, invented or of trading accounts),
:mod:`~bpbfx.sim.backpack.subscriptions` (clients, SUBSCRIBE / UNSUBSCRIBE),
:mod:`~bpbfx.sim.backpack.auth` (signed private subscriptions and REST requests),
:mod:`~bpbfx.sim.backpack.rest` (public REST endpoints),
:mod:`~bpbfx.sim.backpack.requests` (what the trading endpoints accept, refusals),
:mod:`~bpbfx.sim.backpack.records` (orders and fills, and how they are written),
:mod:`~bpbfx.sim.backpack.ledger` (balances, fees), :mod:`~bpbfx.sim.backpack.engine` (the
order engine), :mod:`~bpbfx.sim.backpack.events` (account events and their faults),
:mod:`~bpbfx.sim.backpack.trading` (the trading endpoints),
:mod:`~bpbfx.sim.backpack.trading_controls` (their public controls),
:mod:`~bpbfx.sim.backpack.faults` (what the fault controls arm) and
:mod:`~bpbfx.sim.backpack.server` (:class:`BackpackSimulator`: wiring and the public
controls).

:class:`BackpackSimulator` speaks Backpack's protocol closely enough for an SDK to be tested
against it without the internet:

* ``{"method":"SUBSCRIBE","params":[...]}`` / ``UNSUBSCRIBE``, several streams per frame; a
  successful (un)subscribe gets **no reply**; data arrives as ``{"stream":..,"data":{..}}``.
* Error frames exactly as the exchange writes them: ``{"id":null,"error":{"code":4006,
  "message":"Invalid stream"}}`` (unknown stream type, empty name), 4008 "Invalid depth
  window" (``depth.100ms.X``), 4002 "Parse error" (not JSON, unknown method); the socket stays
  open.  A frame with one bad stream is refused as a whole (nothing in it is subscribed).
* A well-formed stream on an unknown symbol is accepted and stays silent forever, as on the
  real exchange.
* Public streams for every configured market: ``depth.<s>`` (one delta per tick),
  ``depth.200ms|600ms|1000ms.<s>`` (aggregated), ``trade``, ``ticker``, ``bookTicker``,
  ``kline.<interval>``, ``markPrice`` and ``openInterest`` (perpetual markets) and
  ``liquidation``.  Times ``E``/``T`` are microseconds; prices and quantities are strings.
* One evolving, never-crossed book per market with contiguous per-market update ids
  (``U``..``u``), absolute quantities and deletions written as ``"0"``, ``"0.00"`` or
  ``"0.00000"``; trades and ``bookTicker`` agree with the book.  WebSocket prices keep the
  tick's decimals (``"86700.0"``); the REST snapshot ``GET /api/v1/depth`` writes them
  without trailing zeros (``"86700"``), bids ascending with the best bid last.
* Private streams (``account.orderUpdate``, ``account.positionUpdate``, ``account.rfqUpdate``,
  each optionally ``.<symbol>``) need an ED25519 signature of
  ``instruction=subscribe&timestamp=<ms>&window=<ms>`` in the SUBSCRIBE frame
  (``"signature":[key_b64, sig_b64, "<ms>", "<window ms>"]``, all strings, window <= 60000,
  timestamp within the window of ``clock``).  Refusals use the simulator's own codes
  (:data:`ERR_SIGNATURE_MISSING` 4101, :data:`ERR_SIGNATURE_INVALID` 4102,
  :data:`ERR_UNKNOWN_KEY` 4103, :data:`ERR_SIGNATURE_EXPIRED` 4104, :data:`ERR_INVALID_WINDOW`
  4105) in the usual error envelope: Backpack documents none.  UNSUBSCRIBE needs no signature.
  A valid subscription first gets the open positions (a ``positionUpdate`` without ``e``),
  then order events (orderAccepted, orderFill, orderCancelled, orderExpired, orderModified,
  triggerPlaced, triggerFailed), position events and occasional ``rfqActive``.
* Other REST routes: ``/api/v1/markets`` (symbols, tick and step sizes, price and quantity
  bounds), ``/api/v1/time``, the public trade history ``/api/v1/trades`` and
  ``/api/v1/trades/history`` (the tape the ``trade`` stream publishes).
* Trading (:mod:`~bpbfx.sim.backpack.trading`, :mod:`~bpbfx.sim.backpack.engine`): signed
  requests (``X-API-Key``, ``X-Signature``, ``X-Timestamp``, ``X-Window``) place, cancel and
  query orders (``/api/v1/order``, ``/api/v1/orders``) and read the order and fill history
  (``/wapi/v1/history/orders``, ``/wapi/v1/history/fills``); orders trade against the
  simulated books and the other accounts' resting orders, and their ``account.orderUpdate``
  events (``o`` upper-case, ``c`` only with a clientId) leave before the REST answer.
  Accounts listed in ``account_balances`` trade with those balances and get no invented
  activity.  The guide ``bpbfx/docs/simulators.md`` lists every field, refusal and fault
  control.

Time: every exchange cadence (aggregated depth windows, the 1 s ticker and mark price, the
60 s open interest, ...) is ``period * time_scale`` seconds, counted in ticks of
``tick_interval`` (at least one tick), so tests can run a "second" in a few ticks.  With
``tick_interval=None`` nothing moves on its own: call :meth:`BackpackSimulator.step` to
advance the market by whole ticks, which makes tests deterministic.  Given ``seed`` the
books, trades and account events are the same on every run (only wall-clock timestamps
differ).

Threads: the server runs on its own loop thread.  Every public method may be called from any
other thread; state is guarded by one lock that is never held while waiting for the loop, so
introspection methods are safe inside :meth:`SimServer.wait_for` predicates.  Frames to each
client go through a per-connection queue, so a client that stops reading never stalls the
others; one that falls ``max_queued_frames`` behind is closed with code 1008.
"""

from __future__ import annotations

from bpbfx.sim.backpack.market import DEFAULT_MARKETS, BookState, MarketSpec
from bpbfx.sim.backpack.server import BackpackSimulator
from bpbfx.sim.backpack.whole import ALL_MARKETS, whole_market
from bpbfx.sim.backpack.wire import (
    DEPTH_WINDOWS,
    ERR_INVALID_DEPTH_WINDOW,
    ERR_INVALID_STREAM,
    ERR_INVALID_WINDOW,
    ERR_PARSE,
    ERR_SIGNATURE_EXPIRED,
    ERR_SIGNATURE_INVALID,
    ERR_SIGNATURE_MISSING,
    ERR_UNKNOWN_KEY,
    KLINE_INTERVALS,
)

__all__ = [
    "ALL_MARKETS",
    "DEFAULT_MARKETS",
    "DEPTH_WINDOWS",
    "ERR_INVALID_DEPTH_WINDOW",
    "ERR_INVALID_STREAM",
    "ERR_INVALID_WINDOW",
    "ERR_PARSE",
    "ERR_SIGNATURE_EXPIRED",
    "ERR_SIGNATURE_INVALID",
    "ERR_SIGNATURE_MISSING",
    "ERR_UNKNOWN_KEY",
    "KLINE_INTERVALS",
    "BackpackSimulator",
    "BookState",
    "MarketSpec",
    "whole_market",
]
