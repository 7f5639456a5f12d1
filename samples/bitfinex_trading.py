"""Order round trip on Bitfinex: place a limit buy far below the market, wait for its
confirmation, move it, cancel it, and print every channel-0 (account) event on the way.

    cp samples/.env.example .env      # then put your keys in .env (orders permission needed)
    python samples/bitfinex_trading.py [--sim] [--symbol tBTCUSD] [--amount 0.0002]

With --sim the built-in simulator runs a test account (100,000 USD, 1 BTC), so no real keys are
needed and nothing real is traded.  Without it the order goes to the real exchange at half the
best bid, where it should not fill, and is cancelled a moment later.  Keys never appear in the
output.
"""

from __future__ import annotations

import argparse
import contextlib
import threading
from decimal import ROUND_DOWN, Decimal

from bpbfx import BitfinexClient, Event, OrderError
from bpbfx.bitfinex.events import TradingTicker
from bpbfx.bitfinex.orders import OrderChange

SIM_KEY, SIM_SECRET = "sim-api-key", "sim-api-secret"
SIM_BALANCES = {"exchange": {"USD": "100000", "BTC": "1"}}
_print_lock = threading.Lock()


def say(text: str) -> None:
    """Print one line whole (the reader thread prints too)."""
    with _print_lock:
        print(text, flush=True)


def five_digits(price: Decimal) -> Decimal:
    """``price`` cut to the 5 significant digits Bitfinex prices carry."""
    return price.quantize(Decimal(1).scaleb(price.adjusted() - 4), rounding=ROUND_DOWN)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sim", action="store_true", help="use the built-in simulator on 127.0.0.1")
    parser.add_argument("--symbol", default="tBTCUSD")
    parser.add_argument("--amount", default="0.0002", help="amount to buy (exact decimal text)")
    parser.add_argument("--seconds", type=float, default=15.0, help="longest wait for any step (default 15)")
    args = parser.parse_args()
    wait = args.seconds

    with contextlib.ExitStack() as stack:
        kwargs: dict[str, object] = {"auth": True}  # keys from the environment / .env
        if args.sim:
            from bpbfx.sim import BitfinexSimulator

            sim = stack.enter_context(
                BitfinexSimulator(accounts={SIM_KEY: SIM_SECRET}, account_balances={SIM_KEY: SIM_BALANCES})
            )
            kwargs = {"url": sim.url, "api_key": SIM_KEY, "api_secret": SIM_SECRET}

        ticker: list[TradingTicker] = []
        have_ticker = threading.Event()

        def on_message(client: BitfinexClient, event: Event) -> None:
            if event.stream == "account":
                say(f"  channel 0: {type(event).__name__:<22} {event.data}")
            elif isinstance(event, TradingTicker) and not have_ticker.is_set():
                ticker.append(event)
                have_ticker.set()

        def on_order(client: BitfinexClient, change: OrderChange) -> None:
            o = change.order
            say(f"  orders(): {change.kind:<6} id={o.id} amount={o.amount} price={o.price} status={o.status}")

        client = BitfinexClient(
            on_message=on_message,
            on_order=on_order,
            on_error=lambda c, e: say(f"  error: {e}"),
            **kwargs,  # type: ignore[arg-type]
        )
        stack.callback(client.close)
        client.subscribe("ticker", symbol=args.symbol)
        client.start()
        if not client.wait_ready(wait) or not have_ticker.wait(wait):
            raise SystemExit(f"no authenticated connection or no ticker within {wait:g} s")
        bid = ticker[0].bid
        if bid is None:
            raise SystemExit(f"{args.symbol} has no bid")
        price = five_digits(bid / 2)

        try:
            say(f"placing a buy of {args.amount} {args.symbol} at {price} (best bid {bid})")
            req = client.submit_order(args.symbol, args.amount, price)
            order = req.result(timeout=wait)
            say(f"confirmed: order {order.id} (cid {req.cid}, {req.cid_date}) {order.status}")

            lower = five_digits(price * Decimal("0.99"))
            say(f"moving it to {lower}")
            order = client.update_order(order.id, price=lower).result(timeout=wait)
            say(f"updated: price {order.price}")

            say("cancelling it")
            order = client.cancel_order(order.id).result(timeout=wait)
            say(f"cancelled: {order.status}")
        except OrderError as exc:
            say(f"{type(exc).__name__}: {exc}")
        say(f"open orders now: {sorted(client.orders())}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted")
