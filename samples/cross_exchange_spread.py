"""Backpack vs Bitfinex top of book for one market, by its unified symbol.

    python samples/cross_exchange_spread.py --sim                  # both simulators, offline
    python samples/cross_exchange_spread.py --symbol BTC/USDT      # the real exchanges

Backpack publishes its best bid/ask (``bookTicker``); on Bitfinex the quote is the top of the
P0 order book.  Both arrive as ``bpbfx.unified.Quote`` on the clients' reader threads;
``BestQuotes`` keeps the latest per venue and the main thread prints the spreads once a second.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from decimal import Decimal
from typing import Any

from bpbfx import Feed
from bpbfx.feed import BestQuotes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sim", action="store_true", help="run both simulators on 127.0.0.1")
    parser.add_argument("--symbol", default="BTC/USDT", help="unified symbol (default BTC/USDT)")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this many seconds")
    args = parser.parse_args()

    with contextlib.ExitStack() as stack:
        options: dict[str, Any] = {}
        if args.sim:
            from bpbfx.sim.backpack import BackpackSimulator, MarketSpec
            from bpbfx.sim.bitfinex import BitfinexSimulator
            from bpbfx.unified import to_native

            # Serve the market on Backpack at about the price the Bitfinex simulator uses.
            spec = MarketSpec(to_native("backpack", args.symbol), Decimal("118950.0"), Decimal("0.1"),
                              Decimal("0.00001"), Decimal("0.3"))
            bp = stack.enter_context(BackpackSimulator(markets=[spec]))
            bf = stack.enter_context(BitfinexSimulator())
            options = {"urls": {"backpack": bp.url, "bitfinex": bf.url}, "rest_url": bp.http_url}

        best = BestQuotes(args.symbol)
        feed = Feed.quotes(args.symbol, on_quote=best.on_quote, on_error=lambda c, e: print(f"{c.name}: {e}"),
                           **options)
        print("streams:", ", ".join(feed.subscriptions))
        stack.enter_context(feed)
        deadline = None if args.seconds is None else time.monotonic() + args.seconds
        try:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(1.0)
                print(best.line())
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted")
