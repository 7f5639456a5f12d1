"""Native events in, unified events out: :class:`Converter` (no I/O, no threads) and
:class:`UnifiedSink`, the :class:`~bpbfx.Sink` that runs a converter on a client's events and
calls your hooks.

The rules each conversion implements are cited where they are coded; the full table is in the
``bpbfx/docs/events.md``, "One model for both exchanges".  Events with no unified counterpart (subscription replies,
account updates, funding-currency data, liquidations) convert to nothing; book deltas convert to
nothing as well, because the managed book's :class:`~bpbfx.OrderBookUpdate` is what becomes a
:class:`~bpbfx.unified.BookChange`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from ..backpack import events as bp
from ..bitfinex import events as bf
from ..events import Event
from ..exceptions import SymbolMappingError
from ..live import OrderBookUpdate
from ..options import UnifiedHook, UnifiedHookOptions
from ..sink import Sink, SinkHost
from .events import BookChange, Candle, FundingRate, MarkPrice, Quote, Ticker, Trade, TradeSide, UnifiedEvent
from .symbols import EXCHANGES, to_unified, unified_interval

__all__ = ["HOOK_NAMES", "Converter", "UnifiedHook", "UnifiedSink", "report_unmapped"]

if TYPE_CHECKING:
    from typing_extensions import Unpack

#: Hook name per unified event type: the one list of unified hooks (the keyword arguments of
#: :class:`UnifiedSink`, of every client and of :class:`~bpbfx.Feed`).
HOOK_NAMES: Final[dict[type, str]] = {
    Trade: "on_trade",
    Quote: "on_quote",
    Ticker: "on_ticker",
    Candle: "on_candle",
    BookChange: "on_book_change",
    FundingRate: "on_funding_rate",
    MarkPrice: "on_mark_price",
}

_EMPTY: Final[tuple[UnifiedEvent, ...]] = ()
_SELL_BOUND = Decimal(0)


def _now_us() -> int:
    return time.time_ns() // 1000


def _iso_us(text: str) -> int:
    """Microseconds since the epoch of a Backpack ISO time (UTC when no zone is written)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


class _CandleState:
    __slots__ = ("candle", "event")

    def __init__(self, candle: bf.Candle, event: Event) -> None:
        self.candle = candle
        self.event = event


class Converter:
    """Converts one exchange's native events to unified events.

    Keeps a little state per stream (the open Bitfinex candle, the last top of each book), so
    use one converter per client.  Not locked: call it from the thread that delivers that
    stream's events (the client's reader thread; a stream is always read by one socket).

    Args:
        exchange: ``"backpack"`` or ``"bitfinex"``.
        quotes_from_books: also emit a :class:`Quote` whenever the top of a managed book changes.

    Raises:
        SymbolMappingError: unknown exchange.
    """

    def __init__(self, exchange: str, *, quotes_from_books: bool = True) -> None:
        if exchange not in EXCHANGES:
            choices = ", ".join(EXCHANGES)
            raise SymbolMappingError(
                f"unknown exchange {exchange!r}; choose one of {choices}", exchange=str(exchange), symbol=""
            )
        self.exchange = exchange
        self.quotes_from_books = quotes_from_books
        self.unmapped: set[str] = set()
        """Native symbols seen that have no unified form (their events convert to nothing)."""
        self.new_unmapped: list[str] = []
        """Symbols added to :attr:`unmapped` and not yet reported (the sink drains this list)."""
        self._candles: dict[str, _CandleState] = {}
        self._tops: dict[str, tuple[Any, ...]] = {}
        table: dict[type, Callable[[Any, str, int], tuple[UnifiedEvent, ...]]]
        if exchange == "backpack":
            table = {
                bp.Trade: self._bp_trade,
                bp.BookTicker: self._bp_book_ticker,
                bp.Ticker: self._bp_ticker,
                bp.Kline: self._bp_kline,
                bp.MarkPrice: self._bp_mark_price,
            }
        else:
            table = {
                bf.TradeUpdate: self._bf_trade_update,
                bf.TradesSnapshot: self._bf_trades_snapshot,
                bf.TradingTicker: self._bf_ticker,
                bf.CandleUpdate: self._bf_candle_update,
                bf.CandlesSnapshot: self._bf_candles_snapshot,
                bf.DerivativesStatus: self._bf_status,
            }
        self._table = table

    # ------------------------------------------------------------------ entry points
    def convert(self, event: Event) -> tuple[UnifiedEvent, ...]:
        """The unified events for one native event (often one, none for events with no unified
        counterpart, two for a Bitfinex ticker: a Quote and a Ticker).  Raises nothing."""
        handler = self._table.get(type(event))
        if handler is None:
            return _EMPTY
        native = event.symbol
        if native is None:
            return _EMPTY
        symbol = self._unified(native)
        if symbol is None:
            return _EMPTY
        return handler(event, symbol, _now_us())

    def convert_book(self, update: OrderBookUpdate) -> tuple[UnifiedEvent, ...]:
        """The :class:`BookChange` for a managed book update, followed by a :class:`Quote` when
        the top of the (valid) book changed and ``quotes_from_books`` is on.  Raises nothing."""
        native = update.symbol
        if native is None:
            return _EMPTY
        symbol = self._unified(native)
        if symbol is None:
            return _EMPTY
        now = _now_us()
        change = BookChange(
            stream=update.stream,
            symbol=symbol,
            data=update,
            exchange=self.exchange,
            native_symbol=native,
            exchange_time_us=None,
            receive_time_us=now,
            book=update.book,
            changes=update.changes,
            snapshot=update.snapshot,
            update_id=update.update_id,
            valid=update.valid,
        )
        if not self.quotes_from_books:
            return (change,)
        if not update.valid:
            self._tops.pop(update.stream, None)
            return (change,)
        live = update.book
        with live._lock:  # the client's lock, as every LiveBook read; cheaper than snapshot(1)
            inner = live._book
            bid, ask = inner.best_bid(), inner.best_ask()
        key = (bid, ask)
        if self._tops.get(update.stream) == key:
            return (change,)
        self._tops[update.stream] = key
        quote = Quote(
            stream=update.stream,
            symbol=symbol,
            data=update,
            exchange=self.exchange,
            native_symbol=native,
            exchange_time_us=None,
            receive_time_us=now,
            bid=bid.price if bid else None,
            bid_size=bid.size if bid else None,
            ask=ask.price if ask else None,
            ask_size=ask.size if ask else None,
        )
        return (change, quote)

    def _unified(self, native: str) -> str | None:
        try:
            return to_unified(self.exchange, native)
        except SymbolMappingError:
            if native not in self.unmapped:
                self.unmapped.add(native)
                self.new_unmapped.append(native)
            return None

    # ------------------------------------------------------------------ Backpack
    def _bp_trade(self, e: bp.Trade, symbol: str, now: int) -> tuple[UnifiedEvent, ...]:
        # Backpack trade.m = "is the buyer the maker": then the taker sold.
        m = e.buyer_is_maker
        side: TradeSide | None = None if m is None else ("sell" if m else "buy")
        return (
            Trade(
                stream=e.stream,
                symbol=symbol,
                data=e,
                exchange="backpack",
                native_symbol=e.symbol or "",
                exchange_time_us=e.engine_time_us if e.engine_time_us is not None else e.event_time_us,
                receive_time_us=now,
                price=e.price,
                size=e.quantity,
                side=side,
                trade_id=e.trade_id,
                backfill=e.backfill,
            ),
        )

    def _bp_book_ticker(self, e: bp.BookTicker, symbol: str, now: int) -> tuple[UnifiedEvent, ...]:
        # Backpack bookTicker: b/B best bid and size, a/A best ask and size (null when empty).
        return (
            Quote(
                stream=e.stream,
                symbol=symbol,
                data=e,
                exchange="backpack",
                native_symbol=e.symbol or "",
                exchange_time_us=e.engine_time_us if e.engine_time_us is not None else e.event_time_us,
                receive_time_us=now,
                bid=e.bid_price,
                bid_size=e.bid_quantity,
                ask=e.ask_price,
                ask_size=e.ask_quantity,
            ),
        )

    def _bp_ticker(self, e: bp.Ticker, symbol: str, now: int) -> tuple[UnifiedEvent, ...]:
        # Backpack ticker: o first price of the 24 h window, c last, v base volume, V quote volume.
        change = e.close - e.open
        return (
            Ticker(
                stream=e.stream,
                symbol=symbol,
                data=e,
                exchange="backpack",
                native_symbol=e.symbol or "",
                exchange_time_us=e.event_time_us,
                receive_time_us=now,
                last=e.close,
                open=e.open,
                high=e.high,
                low=e.low,
                change=change,
                change_ratio=change / e.open if e.open else None,
                volume=e.volume,
                quote_volume=e.quote_volume,
                trades=e.trades,
            ),
        )

    def _bp_kline(self, e: bp.Kline, symbol: str, now: int) -> tuple[UnifiedEvent, ...]:
        try:
            interval = unified_interval("backpack", e.interval)
            start = _iso_us(e.start)
        except (SymbolMappingError, ValueError):
            return _EMPTY
        # Backpack kline: t start (ISO), X true once the candle is closed.
        return (
            Candle(
                stream=e.stream,
                symbol=symbol,
                data=e,
                exchange="backpack",
                native_symbol=e.symbol or "",
                exchange_time_us=e.event_time_us,
                receive_time_us=now,
                interval=interval,
                open_time_us=start,
                open=e.open,
                high=e.high,
                low=e.low,
                close=e.close,
                volume=e.volume,
                closed=e.closed,
            ),
        )

    def _bp_mark_price(self, e: bp.MarkPrice, symbol: str, now: int) -> tuple[UnifiedEvent, ...]:
        # Backpack markPrice: p mark, i index, f funding rate, n next funding time (ms).
        when = e.engine_time_us if e.engine_time_us is not None else e.event_time_us
        mark = MarkPrice(
            stream=e.stream,
            symbol=symbol,
            data=e,
            exchange="backpack",
            native_symbol=e.symbol or "",
            exchange_time_us=when,
            receive_time_us=now,
            mark_price=e.mark_price,
            index_price=e.index_price,
        )
        if e.funding_rate is None:
            return (mark,)
        funding = FundingRate(
            stream=e.stream,
            symbol=symbol,
            data=e,
            exchange="backpack",
            native_symbol=e.symbol or "",
            exchange_time_us=when,
            receive_time_us=now,
            rate=e.funding_rate,
            next_funding_time_us=None if e.next_funding_time_ms is None else e.next_funding_time_ms * 1000,
        )
        return (mark, funding)

    # ------------------------------------------------------------------ Bitfinex
    def _bf_trade(self, e: Event, row: bf.TradeEntry, symbol: str, now: int, snapshot: bool) -> Trade:
        # Bitfinex trades [ID, MTS, AMOUNT, PRICE]: AMOUNT < 0 the taker sold; MTS in ms.
        amount = row.amount
        return Trade(
            stream=e.stream,
            symbol=symbol,
            data=e,
            exchange="bitfinex",
            native_symbol=e.symbol or "",
            exchange_time_us=row.mts * 1000,
            receive_time_us=now,
            price=row.price,
            size=-amount if amount < _SELL_BOUND else amount,
            side="sell" if amount < _SELL_BOUND else "buy",
            trade_id=row.id,
            snapshot=snapshot,
            backfill=row.backfill,
        )

    def _bf_trade_update(self, e: bf.TradeUpdate, symbol: str, now: int) -> tuple[UnifiedEvent, ...]:
        # Bitfinex sends each trade twice, "te" first and "tu" once recorded: keep "te" only.
        if e.kind != "executed":
            return _EMPTY
        return (self._bf_trade(e, e.trade, symbol, now, False),)

    def _bf_trades_snapshot(self, e: bf.TradesSnapshot, symbol: str, now: int) -> tuple[UnifiedEvent, ...]:
        # The snapshot lists the newest first; deliver history oldest first, like live trades.
        rows = sorted(e.trades, key=lambda t: (t.mts, t.id))
        return tuple(self._bf_trade(e, row, symbol, now, True) for row in rows)

    def _bf_ticker(self, e: bf.TradingTicker, symbol: str, now: int) -> tuple[UnifiedEvent, ...]:
        # Bitfinex ticker [BID, BID_SIZE, ASK, ASK_SIZE, DAILY_CHANGE, DAILY_CHANGE_RELATIVE, LAST,
        # VOLUME, HIGH, LOW]: sizes are positive on both sides; DAILY_CHANGE = LAST - price 24 h ago.
        when = None if e.ts_ms is None else e.ts_ms * 1000
        last, change = e.last_price, e.daily_change
        quote = Quote(
            stream=e.stream,
            symbol=symbol,
            data=e,
            exchange="bitfinex",
            native_symbol=e.symbol or "",
            exchange_time_us=when,
            receive_time_us=now,
            bid=e.bid,
            bid_size=e.bid_size,
            ask=e.ask,
            ask_size=e.ask_size,
        )
        ticker = Ticker(
            stream=e.stream,
            symbol=symbol,
            data=e,
            exchange="bitfinex",
            native_symbol=e.symbol or "",
            exchange_time_us=when,
            receive_time_us=now,
            last=last,
            open=last - change if last is not None and change is not None else None,
            high=e.high,
            low=e.low,
            change=change,
            change_ratio=e.daily_change_relative,
            volume=e.volume,
            quote_volume=None,
            trades=None,
        )
        return (quote, ticker)

    def _bf_candle(self, e: Event, row: bf.Candle, symbol: str, now: int, closed: bool, snapshot: bool) -> Candle:
        # Bitfinex candle [MTS, OPEN, CLOSE, HIGH, LOW, VOLUME]: CLOSE comes before HIGH.
        ts_ms = getattr(e, "ts_ms", None)
        return Candle(
            stream=e.stream,
            symbol=symbol,
            data=e,
            exchange="bitfinex",
            native_symbol=e.symbol or "",
            exchange_time_us=None if ts_ms is None else ts_ms * 1000,
            receive_time_us=now,
            interval=self._bf_interval(e.stream),
            open_time_us=row.mts * 1000,
            open=row.open,
            high=row.high,
            low=row.low,
            close=row.close,
            volume=row.volume,
            closed=closed,
            snapshot=snapshot,
        )

    @staticmethod
    def _bf_interval(stream: str) -> str:
        # "candles:trade:<timeframe>:<symbol>"
        parts = stream.split(":")
        native = parts[2] if len(parts) > 2 else ""
        try:
            return unified_interval("bitfinex", native)
        except SymbolMappingError:
            return native

    def _bf_candles_snapshot(self, e: bf.CandlesSnapshot, symbol: str, now: int) -> tuple[UnifiedEvent, ...]:
        # Newest first on the wire; every candle but the newest is closed.
        rows = sorted(e.candles, key=lambda c: c.mts)
        if not rows:
            return _EMPTY
        self._candles[e.stream] = _CandleState(rows[-1], e)
        last = len(rows) - 1
        return tuple(self._bf_candle(e, row, symbol, now, i < last, True) for i, row in enumerate(rows))

    def _bf_candle_update(self, e: bf.CandleUpdate, symbol: str, now: int) -> tuple[UnifiedEvent, ...]:
        # Bitfinex repeats the open candle with the same MTS; a later MTS means the previous one
        # closed (Bitfinex sends no closed flag), so it is repeated once with closed=True.
        row = e.candle
        state = self._candles.get(e.stream)
        if state is None or row.mts > state.candle.mts:
            out: tuple[UnifiedEvent, ...] = ()
            if state is not None:
                out = (self._bf_candle(e, state.candle, symbol, now, True, False),)
            self._candles[e.stream] = _CandleState(row, e)
            return (*out, self._bf_candle(e, row, symbol, now, False, False))
        if row.mts == state.candle.mts:
            state.candle, state.event = row, e
            return (self._bf_candle(e, row, symbol, now, False, False),)
        return (self._bf_candle(e, row, symbol, now, True, False),)  # an older candle: final

    def _bf_status(self, e: bf.DerivativesStatus, symbol: str, now: int) -> tuple[UnifiedEvent, ...]:
        # Bitfinex deriv status: MARK_PRICE, SPOT_PRICE (the index), CURRENT_FUNDING,
        # NEXT_FUNDING_EVT_MTS; MTS is the status time (ms).
        when = None if e.mts is None else e.mts * 1000
        out: list[UnifiedEvent] = []
        if e.mark_price is not None:
            out.append(
                MarkPrice(
                    stream=e.stream,
                    symbol=symbol,
                    data=e,
                    exchange="bitfinex",
                    native_symbol=e.symbol or "",
                    exchange_time_us=when,
                    receive_time_us=now,
                    mark_price=e.mark_price,
                    index_price=e.spot_price,
                )
            )
        if e.current_funding is not None:
            out.append(
                FundingRate(
                    stream=e.stream,
                    symbol=symbol,
                    data=e,
                    exchange="bitfinex",
                    native_symbol=e.symbol or "",
                    exchange_time_us=when,
                    receive_time_us=now,
                    rate=e.current_funding,
                    next_funding_time_us=None if e.next_funding_evt_mts is None else e.next_funding_evt_mts * 1000,
                )
            )
        return tuple(out)


class UnifiedSink(Sink):
    """A :class:`~bpbfx.Sink` that converts a client's events and book updates to unified
    events and calls your hooks with them: ``hook(client, event)``.

    ``on_event`` receives every unified event; the typed hooks (``on_trade``, ``on_quote``,
    ``on_ticker``, ``on_candle``, ``on_book_change``, ``on_funding_rate``, ``on_mark_price``)
    receive their type only.  Hooks run on the thread that delivered the native event (the
    client's reader thread; the snapshot thread for a Backpack resync); an exception in a hook is
    reported to the client's ``on_error`` as a :class:`~bpbfx.CallbackError`.  A native symbol
    with no unified form is reported once to ``on_error`` as a
    :class:`~bpbfx.SymbolMappingError` and its events are skipped.

    One sink may be attached to several clients (``client.add_sink(sink)``); it keeps one
    :class:`Converter` per client.

    Raises:
        TypeError: a hook is not callable.
    """

    def __init__(
        self,
        on_event: UnifiedHook | None = None,
        *,
        quotes_from_books: bool = True,
        **hooks: Unpack[UnifiedHookOptions],
    ) -> None:
        given: dict[str, Any] = dict(hooks)
        unknown = sorted(set(given) - set(HOOK_NAMES.values()))
        if unknown:
            raise TypeError(f"unknown hook(s) {', '.join(unknown)}; unified hooks: {', '.join(HOOK_NAMES.values())}")
        for name, hook in (("on_event", on_event), *given.items()):
            if hook is not None and not callable(hook):
                raise TypeError(f"{name} must be callable, got {type(hook).__name__}")
        self.on_unified = on_event
        self._typed: dict[type, tuple[str, UnifiedHook]] = {
            cls: (name, hook) for cls, name in HOOK_NAMES.items() if (hook := given.get(name)) is not None
        }
        self.quotes_from_books = quotes_from_books
        self._converters: dict[int, Converter] = {}

    def converter(self, client: SinkHost) -> Converter:
        """This sink's converter for ``client`` (created on first use).  Any thread."""
        conv = self._converters.get(id(client))
        if conv is None:
            conv = self._converters[id(client)] = Converter(client.exchange, quotes_from_books=self.quotes_from_books)
        return conv

    def on_event(self, client: SinkHost, event: Event) -> None:
        """Reader thread: convert and dispatch (see the class docstring)."""
        conv = self._converters.get(id(client)) or self.converter(client)
        out = conv.convert(event)
        if out:
            self.dispatch(client, out)
        elif conv.new_unmapped:
            report_unmapped(client, conv)

    def on_book(self, client: SinkHost, update: OrderBookUpdate) -> None:
        """Reader (or snapshot) thread: a book update becomes a BookChange (and maybe a Quote)."""
        conv = self._converters.get(id(client)) or self.converter(client)
        out = conv.convert_book(update)
        if out:
            self.dispatch(client, out)
        elif conv.new_unmapped:
            report_unmapped(client, conv)

    def on_detach(self, client: SinkHost) -> None:
        """Forget the client's converter."""
        self._converters.pop(id(client), None)

    def dispatch(self, client: SinkHost, events: tuple[UnifiedEvent, ...]) -> None:
        """Call the hooks for already converted events (calling thread)."""
        typed = self._typed
        every = self.on_unified
        for ev in events:
            entry = typed.get(type(ev))
            if entry is not None:
                client.call_hook(entry[0], entry[1], ev)
            if every is not None:
                client.call_hook("on_event", every, ev)


def report_unmapped(client: SinkHost, conv: Converter) -> None:
    """Report each symbol ``conv`` could not map, once, to ``client``'s ``on_error`` as a
    :class:`~bpbfx.SymbolMappingError` (calling thread)."""
    while conv.new_unmapped:
        native = conv.new_unmapped.pop()
        try:
            to_unified(client.exchange, native)
        except SymbolMappingError as exc:
            # The exchange sent it: reported as data the SDK cannot map, not as a bad argument.
            error = SymbolMappingError(exc.message, exchange=exc.exchange, symbol=exc.symbol)
            error.__cause__ = exc
            client.report_error(error)
