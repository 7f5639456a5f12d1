"""Several Bitfinex channels at once: ticker, trades and a P0/F0/25 book, with the local book
verified against the exchange's checksums.

    python samples/bitfinex_multi_channel.py [--sim] [--seconds N]
"""

from __future__ import annotations

import argparse
import contextlib
import threading

from bpbfx import BitfinexClient, Event
from bpbfx.bitfinex.events import TradeUpdate, TradingTicker
from bpbfx.live import OrderBookUpdate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sim", action="store_true", help="use the built-in simulator on 127.0.0.1")
    parser.add_argument("--symbol", default="tBTCUSD")
    parser.add_argument("--seconds", type=float, default=None)
    args = parser.parse_args()

    with contextlib.ExitStack() as stack:
        url = None
        if args.sim:
            from bpbfx.sim import BitfinexSimulator

            url = stack.enter_context(BitfinexSimulator()).url

        def on_message(client: BitfinexClient, event: Event) -> None:
            if isinstance(event, TradingTicker):
                print(f"[ticker] {event.symbol} last {event.last_price}")
            elif isinstance(event, TradeUpdate) and event.kind == "executed":
                trade = event.trade
                print(f"[trade]  {event.symbol} {trade.side} {abs(trade.amount)} @ {trade.price}")

        def on_book(client: BitfinexClient, update: OrderBookUpdate) -> None:
            if update.snapshot:
                print(f"[book]   {update.symbol} snapshot, valid={update.valid}")
            bid, ask = update.book.best_bid(), update.book.best_ask()
            if bid and ask and update.update_id and update.update_id % 20 == 0:
                print(f"[book]   {update.symbol} {bid.size}@{bid.price} | {ask.size}@{ask.price}")

        client = BitfinexClient(
            url,
            auth=False,
            on_message=on_message,
            on_book=on_book,
            on_error=lambda c, e: print(f"[error]  {e}"),
            on_reconnect=lambda c, n: print(f"[reconnect] attempt {n}"),
        )
        client.subscribe("ticker", symbol=args.symbol)
        client.subscribe("trades", symbol=args.symbol)
        client.subscribe("book", symbol=args.symbol, prec="P0", freq="F0", len=25)
        if args.seconds:
            threading.Timer(args.seconds, client.close).start()
        client.run_forever()
        print(f"checksums verified: {client.stats().book_checks}")


if __name__ == "__main__":
    main()
