"""A local Bitfinex WebSocket API v2 server on 127.0.0.1, trading accounts included.

The package's parts: :mod:`~bpbfx.sim.bitfinex.wire` (``conf`` flags, numbers as JavaScript
writes them, checksums, status texts), :mod:`~bpbfx.sim.bitfinex.market` (markets and their
evolving books), :mod:`~bpbfx.sim.bitfinex.feeds` (snapshots and what each tick publishes,
cadences), :mod:`~bpbfx.sim.bitfinex.accounts` (wallets, positions, funding offers, synthetic
activity), :mod:`~bpbfx.sim.bitfinex.records` (orders, positions and offers as values and
rows), :mod:`~bpbfx.sim.bitfinex.orders` (the order engine: inputs validated and answered),
:mod:`~bpbfx.sim.bitfinex.execution` (fills, fees, wallet and position updates),
:mod:`~bpbfx.sim.bitfinex.clients` (a socket: its channels and how its frames are numbered),
:mod:`~bpbfx.sim.bitfinex.subscriptions` (subscribe / unsubscribe, channel ids, heartbeats),
:mod:`~bpbfx.sim.bitfinex.auth` (authentication, nonces, filters),
:mod:`~bpbfx.sim.bitfinex.channel0` (account inputs and events),
:mod:`~bpbfx.sim.bitfinex.faults` (what the fault controls arm) and
:mod:`~bpbfx.sim.bitfinex.server` (:class:`BitfinexSimulator`: wiring and the public controls).

:class:`BitfinexSimulator` speaks the Bitfinex v2 protocol closely enough for an SDK to be
tested against it without the internet:

* On connect ``{"event":"info","version":2,"serverId":"<uuid>","platform":{"status":1}}``.
* ``conf`` flags (``{"event":"conf","status":"OK","flags":N}``), per socket: ``TIMESTAMP``
  (32768: ms time appended last to every array frame), ``SEQ_ALL`` (65536: a per-socket sequence
  number from 1 on every array frame, ``hb`` and ``cs`` included, before the timestamp; channel
  0 frames carry ``PUB_SEQ, AUTH_SEQ``, ``[0,"hb",PUB_SEQ]`` only the first; notifications
  never advance ``AUTH_SEQ``: one answering a request carries only the current ``AUTH_SEQ``,
  any other one both numbers), ``OB_CHECKSUM`` (131072: ``[CHAN,"cs",CRC]`` after each
  tick's book updates) and ``BULK_UPDATES`` (536870912: a tick's book updates in one frame, a
  list of entries shaped like a snapshot).
* ``subscribe`` / ``unsubscribe`` / ``ping`` / ``auth`` / ``unauth`` events, with the replies
  and error frames seen on the wire: errors repeat the request's fields, then ``event``,
  ``msg``, ``code`` (``{"channel":"book","symbol":"tFOO","event":"error","msg":"symbol:
  invalid","code":10300,"pair":"FOO"}``).  10300 ``channel: unknown`` / ``symbol: invalid`` /
  ``length: invalid`` / ``precision: invalid`` / ``freq: invalid`` / ``key: invalid``, 10301
  ``subscribe: dup`` (with the existing ``chanId``), 10305 ``subscribe: limit`` (more than
  ``max_channels`` on one socket), 10400 ``unsubscribe: invalid`` (unknown ``chanId``), 10401
  ``unsubscribe: not subscribed`` (a ``chanId`` this socket already unsubscribed: the
  simulator's own text), 10000 ``event: invalid (<name>)``.  A frame that is not JSON gets no
  reply, and so does a ``status`` subscription to an unknown ``deriv:`` key (both as on the
  wire).
* Data for every channel of a list of markets (:data:`DEFAULT_MARKETS`: 22 trading pairs
  including two perpetuals, and 5 funding currencies): trading and funding tickers, trades
  (snapshot of 30, newest first, then ``te`` and, one tick later, ``tu``; funding
  ``fte``/``ftu``), books ``P0``-``P4`` with ``len`` 1/25/100/250 and ``freq`` F0 (every tick)
  or F1 (every 2 s), raw books ``R0`` (trading ``[ORDER_ID,PRICE,AMOUNT]``, funding
  ``[OFFER_ID,PERIOD,RATE,AMOUNT]``), candles ``trade:<tf>:<symbol>`` (240 candles newest
  first, then the current candle on each trade), status ``deriv:<perp>`` and ``liq:global``.
* One order book per market: individual orders (raw books) aggregated into price levels
  (``P0`` keeps 5 significant figures, ``P4`` one), never crossed.  Each subscription sees
  exactly ``len`` levels per side: a level leaving the window arrives as a delete, so the
  client's book always equals :meth:`BitfinexSimulator.book`.  Deletes come first in a tick
  (``COUNT 0`` with ``AMOUNT`` 1 for a bid and -1 for an ask on trading books, -1 / 1 on
  funding books where a bid has a negative amount; ``PRICE 0`` / ``RATE 0`` on raw books).
* Numbers are JSON numbers written the way Bitfinex's JavaScript servers write them
  (``118940``, ``0.00002503``, ``7e-7``, see :func:`js_number`); each level keeps its wire text,
  which the ``cs`` checksum is computed from (:func:`book_checksum`).  Funding books order
  levels of one rate by period (ascending) for the checksum; at ``P0`` every rate has a single
  period, so there are no ties.
* ``[CHAN,"hb"]`` every ``hb_interval`` seconds (default 15) on every subscribed channel, busy
  or quiet (as measured on the wire), and ``[0,"hb"]`` on an authenticated socket.  A socket
  with neither a subscription nor authentication is dropped after ``idle_timeout`` (default
  60 s).  Both are checked on market ticks.
* Authentication: ``{"event":"auth","apiKey":K,"authSig":S,"authPayload":P,"authNonce":N,
  "filter":[...],"dms":4}`` with ``authSig`` the hex HMAC-SHA384 of ``P`` keyed with the
  account's secret; ``P`` starts with ``AUTH`` (``AUTH<nonce>`` or the official Node client's
  ``AUTH<nonce><nonce>``) and the nonce is ``N``, which must be strictly greater than every
  nonce accepted before for the key, on any socket.  Refusals: 10100 ``apikey: invalid``
  (unknown key), 10100 ``apikey: digest invalid`` (bad signature), 10114 ``nonce: small``,
  10100 ``auth: dup`` (already authenticated), 10111 ``auth: payload invalid`` (payload not
  starting with ``AUTH`` or no nonce: the simulator's own text).  Then channel 0: snapshots
  ``ps ws os fos fcs fls``, honouring ``filter``.
* Accounts: a trading account (``account_balances``) starts with the given wallets and trades
  for real: ``on ou oc oc_multi ox_multi calc fon foc`` are validated like the exchange and
  answered with ``n`` notifications and order / offer frames; marketable orders execute
  against the market's book (partial fills, ``te``/``tu``, ``ou``/``oc``, ``wu``, ``pn``/
  ``pu``/``pc``, ``bu``) and the rest rests until cancelled, crossed by the moving book or
  :meth:`~BitfinexSimulator.fill_order`; orders outlive sockets unless ``dms`` 4 cancels them
  on disconnect; inputs are rate limited (``order_rate_limit``).  Other accounts are
  synthetic: random wallets, a position, an offer and invented activity shaped like the
  recorded session (see :mod:`~bpbfx.sim.bitfinex.orders` for the texts and their sources).
* Faults (see the methods): info 20051 / 20060 / 20061 (maintenance: between 20060 and 20061
  no data or account events, snapshots included, while heartbeats go on), a silenced channel,
  a wrong ``cs``, a withheld book update, a ``SEQ_ALL`` gap, a paused market, a silenced
  socket, frames queued verbatim, a socket dropped between an accepted order and its
  notification, refused orders, late notifications, a notification carrying both sequence
  numbers, and the base class's drops, closes and refused handshakes.

Time: exchange cadences (ticker 1 s, status 1 s, F1 books 2 s, account events 0.5 s,
liquidations 2 s) are ``period * time_scale`` seconds counted in ticks of ``tick_interval``;
heartbeats use wall-clock seconds (``hb_interval``).  With ``tick_interval=None`` nothing moves
on its own: :meth:`BitfinexSimulator.step` advances whole ticks, which makes tests
deterministic.  Given ``seed``, books, trades and account events are the same on every run
(only timestamps differ).

Threads: the server runs on its own loop thread; every public method may be called from any
other thread.  State is guarded by one lock that is never held while waiting for the loop, so
introspection methods are safe inside :meth:`SimServer.wait_for` predicates.  Frames go through
a per-connection queue (sequence numbers are assigned in queue order); a client that falls
``max_queued_frames`` behind is closed with code 1008.
"""

from __future__ import annotations

from bpbfx.sim.bitfinex.accounts import (
    FLAG_CLOSE,
    FLAG_HIDDEN,
    FLAG_OCO,
    FLAG_POSTONLY,
    FLAG_REDUCE_ONLY,
    MAX_MULTI_OPS,
    ORDER_TYPES,
    SimOffer,
    SimOrder,
    SimPosition,
)
from bpbfx.sim.bitfinex.auth import AuthAttempt
from bpbfx.sim.bitfinex.market import CANDLE_TIMEFRAMES, DEFAULT_MARKETS, BookView, MarketSpec
from bpbfx.sim.bitfinex.server import BitfinexSimulator
from bpbfx.sim.bitfinex.whole import ALL_MARKETS, whole_market
from bpbfx.sim.bitfinex.wire import (
    BULK_UPDATES,
    INFO_MESSAGES,
    OB_CHECKSUM,
    SEQ_ALL,
    TIMESTAMP,
    book_checksum,
    js_decimal,
    js_number,
)

__all__ = [
    "ALL_MARKETS",
    "BULK_UPDATES",
    "CANDLE_TIMEFRAMES",
    "DEFAULT_MARKETS",
    "FLAG_CLOSE",
    "FLAG_HIDDEN",
    "FLAG_OCO",
    "FLAG_POSTONLY",
    "FLAG_REDUCE_ONLY",
    "INFO_MESSAGES",
    "MAX_MULTI_OPS",
    "OB_CHECKSUM",
    "ORDER_TYPES",
    "SEQ_ALL",
    "TIMESTAMP",
    "AuthAttempt",
    "BitfinexSimulator",
    "BookView",
    "MarketSpec",
    "SimOffer",
    "SimOrder",
    "SimPosition",
    "book_checksum",
    "js_decimal",
    "js_number",
    "whole_market",
]
