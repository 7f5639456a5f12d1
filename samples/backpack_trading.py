"""Order round trip on Backpack: place a post-only limit bid below the market, read it back from
the live view of open orders, cancel it, and print every change to the account's orders.

    cp samples/.env.example .env      # then put your keys in .env (trading permission needed)
    python samples/backpack_trading.py [--sim] [--symbol SOL_USDC] [--quantity 0.01]

With --sim the built-in simulator runs a test account (fresh keys, 100,000 USDC) on 127.0.0.1,
so no real keys are needed and nothing real is traded.  Without it the order goes to the real
exchange at 80 % of the best bid, post-only (it can only rest, never take), and is cancelled
a moment later.  Keys never appear in the output.

Backpack takes orders over REST (signed with ED25519) and reports them on the private
``account.orderUpdate`` stream; the client does both: every order is sent once, with a client
id that is never reused, and an answer lost on the way is decided from the exchange's records.
"""

from __future__ import annotations

import argparse
import contextlib
import threading
from decimal import ROUND_DOWN, Decimal

from bpbfx import BackpackClient, OrderError
from bpbfx.backpack.events import BookTicker
from bpbfx.backpack.orders import OrderChange

_print_lock = threading.Lock()


def say(text: str) -> None:
    """Print one line whole (the client's threads print too)."""
    with _print_lock:
        print(text, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sim", action="store_true", help="use the built-in simulator on 127.0.0.1")
    parser.add_argument("--symbol", default="SOL_USDC")
    parser.add_argument("--quantity", default="0.01", help="quantity to bid for (exact decimal text)")
    parser.add_argument("--seconds", type=float, default=15.0, help="longest wait for any step (default 15)")
    args = parser.parse_args()
    wait = args.seconds

    with contextlib.ExitStack() as stack:
        options: dict[str, object] = {}  # keys from the environment / .env
        if args.sim:
            from bpbfx.factory import generate_test_keys
            from bpbfx.sim import BackpackSimulator

            keys = generate_test_keys("backpack")
            sim = stack.enter_context(
                BackpackSimulator(account_balances={keys.api_key: {"USDC": "100000", "SOL": "100"}})
            )
            options = {"url": sim.url, "rest_url": sim.http_url, "api_key": keys.api_key,
                       "api_secret": keys.api_secret}

        top: list[BookTicker] = []
        have_top = threading.Event()

        def on_message(client: BackpackClient, event: object) -> None:
            if isinstance(event, BookTicker) and not have_top.is_set():
                top.append(event)
                have_top.set()

        def on_order(client: BackpackClient, change: OrderChange) -> None:
            o = change.order
            say(f"  orders(): {change.kind:<6} {o.side} {o.quantity} @ {o.price} id={o.id} "
                f"client_id={o.client_id} status={o.status} (from the {change.source})")

        client = BackpackClient(
            streams=[f"bookTicker.{args.symbol}"],
            on_message=on_message,
            on_order=on_order,
            on_error=lambda c, e: say(f"  error: {e}"),
            **options,  # type: ignore[arg-type]
        )
        stack.callback(client.close)
        client.start()
        if not client.wait_ready(wait) or not have_top.wait(wait):
            raise SystemExit(f"no connection, no open-orders snapshot or no best bid within {wait:g} s")
        bid = top[0].bid_price
        if bid is None:
            raise SystemExit(f"{args.symbol} has no bid")
        rules = client.market_rules(args.symbol)
        price = (bid * Decimal("0.8")).quantize(rules.tick_size, rounding=ROUND_DOWN)

        try:
            say(f"placing a post-only bid for {args.quantity} {args.symbol} at {price} (best bid {bid})")
            req = client.submit_order(args.symbol, "Bid", args.quantity, price, post_only=True)
            order = req.result(timeout=wait)
            say(f"placed: order {order.id} (client id {req.client_id}) {order.status}")
            say(f"open orders now: {sorted(client.orders())}")

            say("cancelling it")
            order = client.cancel_order(args.symbol, order.id).result(timeout=wait)
            say(f"cancelled: {order.status}")
        except OrderError as exc:
            say(f"{type(exc).__name__}: {exc}")
        say(f"open orders now: {sorted(client.orders())}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted")
