"""One order API for both venues: the same limit buy, with unified symbols and sides, placed on
Backpack (SOL/USDC) and Bitfinex (BTC/USD) through one Feed, read back as unified orders, then
cancelled.

    cp samples/.env.example .env      # then put both exchanges' keys in .env
    python samples/unified_orders.py [--sim]

With --sim the built-in simulators run a test account on each exchange (127.0.0.1), so no real
keys are needed and nothing real is traded.  Without it each order goes to the real exchange at
80 % of the best bid, post-only (it can only rest), and is cancelled a moment later.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import threading
from decimal import ROUND_DOWN, Decimal
from typing import Any

from bpbfx import Feed, OrderError
from bpbfx.unified import Order, Quote

MARKETS = {"backpack": ("SOL/USDC", "0.1"), "bitfinex": ("BTC/USD", "0.0002")}
_print_lock = threading.Lock()


def say(text: str) -> None:
    """Print one line whole (the clients' threads print too)."""
    with _print_lock:
        print(text, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sim", action="store_true", help="use the built-in simulators on 127.0.0.1")
    parser.add_argument("--seconds", type=float, default=15.0, help="longest wait for any step (default 15)")
    args = parser.parse_args()
    wait = args.seconds

    with contextlib.ExitStack() as stack:
        urls: dict[str, str] = {}
        rest_url = None
        if args.sim:
            from bpbfx.factory import generate_test_keys
            from bpbfx.sim import BackpackSimulator, BitfinexSimulator

            bp_keys, bf_keys = generate_test_keys("backpack"), generate_test_keys("bitfinex")
            bp = stack.enter_context(BackpackSimulator(account_balances={bp_keys.api_key: {"USDC": "100000"}}))
            bf = stack.enter_context(BitfinexSimulator(
                accounts={bf_keys.api_key: bf_keys.api_secret},
                account_balances={bf_keys.api_key: {"exchange": {"USD": "100000"}}},
            ))
            urls, rest_url = {"backpack": bp.url, "bitfinex": bf.url}, bp.http_url
            keys = {"backpack": (bp_keys.api_key, bp_keys.api_secret),
                    "bitfinex": (bf_keys.api_key, bf_keys.api_secret)}
        else:
            from dotenv import load_dotenv

            load_dotenv()
            keys = {"backpack": (os.environ.get("BACKPACK_PUBLIC_KEY"), os.environ.get("BACKPACK_SECRET_KEY")),
                    "bitfinex": (os.environ.get("BITFINEX_API_KEY"), os.environ.get("BITFINEX_API_SECRET"))}

        bids: dict[str, Decimal] = {}
        have_bids = threading.Event()

        def on_quote(client: Any, quote: Quote) -> None:
            if quote.bid is not None and quote.exchange not in bids:
                bids[quote.exchange] = quote.bid
                if len(bids) == len(MARKETS):
                    have_bids.set()

        def on_order(client: Any, order: Order) -> None:
            say(f"  on_order: {order.exchange:<8} {order.symbol:<9} {order.side} {order.amount} @ {order.price} "
                f"{order.status:<8} filled {order.filled} (exchange says {order.native_status})")

        feed = Feed(
            ["backpack:bookTicker.SOL_USDC", "bitfinex:ticker:tBTCUSD"],
            on_quote=on_quote,
            on_order=on_order,
            on_error=lambda client, exc: say(f"  error: {exc}"),
            urls=urls,
            rest_url=rest_url,
            client_options={name: {"api_key": k, "api_secret": s} for name, (k, s) in keys.items()},
        )
        stack.callback(feed.close)
        feed.start()
        if not feed.wait_ready(wait) or not have_bids.wait(wait):
            raise SystemExit(f"not connected to both exchanges, or no best bid, within {wait:g} s")

        placed: dict[str, Order] = {}
        for exchange, (symbol, amount) in MARKETS.items():
            price = (bids[exchange] * Decimal("0.8")).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
            if exchange == "bitfinex":  # 5 significant digits
                price = price.quantize(Decimal(1).scaleb(price.adjusted() - 4), rounding=ROUND_DOWN)
            say(f"{exchange}: buy {amount} {symbol} at {price} (best bid {bids[exchange]}), post-only")
            try:
                order = feed.submit_order(exchange, symbol, "buy", amount, price, post_only=True).result(wait)
            except OrderError as exc:
                say(f"{exchange}: {type(exc).__name__}: {exc}")
                continue
            placed[exchange] = order
            say(f"{exchange}: placed, id {order.id}, client id {order.client_id}, status {order.status}")

        say(f"open orders on both venues: {sorted((o.exchange, o.id) for o in feed.orders())}")
        for exchange, order in placed.items():
            try:
                gone = feed.cancel_order(exchange, order.symbol, order.id).result(wait)
                say(f"{exchange}: cancelled, status {gone.status}")
            except OrderError as exc:
                say(f"{exchange}: {type(exc).__name__}: {exc}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted")
