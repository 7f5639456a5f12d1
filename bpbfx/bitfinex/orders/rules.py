"""The exchange's order rules: types, flags, limits and precision, as Bitfinex documents them.

- Order types (https://docs.bitfinex.com/reference/rest-auth-submit-order): LIMIT, EXCHANGE
  LIMIT, MARKET, EXCHANGE MARKET, STOP, EXCHANGE STOP, STOP LIMIT, EXCHANGE STOP LIMIT, TRAILING
  STOP, EXCHANGE TRAILING STOP, FOK, EXCHANGE FOK, IOC, EXCHANGE IOC.  ``lev`` (1 to 100) applies
  to derivative pairs only.
- Flags (https://docs.bitfinex.com/docs/flag-values): HIDDEN 64, CLOSE 512, REDUCE_ONLY 1024,
  POSTONLY 4096, OCO 16384, NO_VAR_RATES 524288; a ``flags`` value is their sum.  Funding offers
  take HIDDEN only ("Offer Flags").
- Funding offer types LIMIT, FRRDELTAVAR, FRRDELTAFIX, periods of 2 to 120 days
  (https://docs.bitfinex.com/reference/rest-auth-submit-funding-offer).
- Prices carry at most 5 significant digits and the API truncates more
  (https://docs.bitfinex.com/v1/docs/readme, "Price Precision"); amounts at most 8 decimals (the
  smallest amount is 0.00000001: order status RSN_DUST).  Numbers travel as exact decimal text.
- ``cid`` is an int45 that "should be unique in the day (UTC)"; an order is cancelled by ``cid``
  with ``cid_date`` (``YYYY-MM-DD``, the UTC day it was created); ``gid`` is an int32
  (https://docs.bitfinex.com/reference/ws-auth-input-order-new,
  https://docs.bitfinex.com/reference/ws-auth-input-order-cancel).
- ``tif`` is UTC text ``YYYY-MM-DD HH:MM:SS`` (https://docs.bitfinex.com/docs/changelog,
  v2018-06-08).
- ``ox_multi`` takes at most 75 operations
  (https://docs.bitfinex.com/reference/ws-auth-input-order-multi-op); ``calc`` at most 30
  calculations per request, and the server performs at most 8 per second
  (https://docs.bitfinex.com/reference/ws-auth-input-calc).
- Order creation is limited to 1,000 orders per 5 minutes per user, shared by all of the
  account's connections (bitfinexcom/bitfinex-api-node README, "Order Creation Limits").
- A refusal for the rate limit is told by its text only: the notification's CODE is ``null`` on
  the wire ("ratelimit: error", "Reached Maximum number of orders per ...").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

__all__ = [
    "CALC_RATE_LIMIT",
    "CLOSE",
    "HIDDEN",
    "MAX_BATCH_OPS",
    "MAX_CALC_ITEMS",
    "MAX_CID",
    "NO_VAR_RATES",
    "OCO",
    "OFFER_TYPES",
    "ORDER_FLAGS",
    "ORDER_RATE_LIMIT",
    "ORDER_TYPES",
    "POSTONLY",
    "REDUCE_ONLY",
]

#: Order types (rest-auth-submit-order, "Available order types").
ORDER_TYPES: Final[tuple[str, ...]] = (
    "LIMIT",
    "EXCHANGE LIMIT",
    "MARKET",
    "EXCHANGE MARKET",
    "STOP",
    "EXCHANGE STOP",
    "STOP LIMIT",
    "EXCHANGE STOP LIMIT",
    "TRAILING STOP",
    "EXCHANGE TRAILING STOP",
    "FOK",
    "EXCHANGE FOK",
    "IOC",
    "EXCHANGE IOC",
)
MARKET_TYPES: Final = frozenset({"MARKET", "EXCHANGE MARKET"})
TRAILING_TYPES: Final = frozenset({"TRAILING STOP", "EXCHANGE TRAILING STOP"})
STOP_LIMIT_TYPES: Final = frozenset({"STOP LIMIT", "EXCHANGE STOP LIMIT"})
IMMEDIATE_TYPES: Final = frozenset({"FOK", "EXCHANGE FOK", "IOC", "EXCHANGE IOC"})

# Flag values (docs.bitfinex.com/docs/flag-values).
HIDDEN: Final = 64
CLOSE: Final = 512
REDUCE_ONLY: Final = 1024
POSTONLY: Final = 4096
OCO: Final = 16384
NO_VAR_RATES: Final = 524288
#: Order flags by name; a ``flags`` value is a sum of these.
ORDER_FLAGS: Final[Mapping[str, int]] = {
    "HIDDEN": HIDDEN,
    "CLOSE": CLOSE,
    "REDUCE_ONLY": REDUCE_ONLY,
    "POSTONLY": POSTONLY,
    "OCO": OCO,
    "NO_VAR_RATES": NO_VAR_RATES,
}
ORDER_FLAG_MASK: Final = sum(ORDER_FLAGS.values())
OFFER_FLAG_MASK: Final = HIDDEN  # offers take only HIDDEN (flag-values, "Offer Flags")

#: Funding offer types (rest-auth-submit-funding-offer).
OFFER_TYPES: Final[tuple[str, ...]] = ("LIMIT", "FRRDELTAVAR", "FRRDELTAFIX")

#: At most this many operations in one ``ox_multi`` (ws-auth-input-order-multi-op).
MAX_BATCH_OPS: Final = 75
#: At most this many calculations in one ``calc`` (ws-auth-input-calc).
MAX_CALC_ITEMS: Final = 30
#: ``cid`` is an int45 (ws-auth-input-order-new): 1 <= cid < MAX_CID.
MAX_CID: Final = 2**45
MAX_GID: Final = 2**31 - 1  # gid is an int32
PRICE_DIGITS: Final = 5  # significant digits of a price (docs "Price Precision")
DECIMALS: Final = 8  # smallest amount 0.00000001 (order status RSN_DUST)
MAX_LEVERAGE: Final = 100  # lev: 1..100, derivative pairs only (rest-auth-submit-order)
OFFER_PERIOD: Final = (2, 120)  # days (rest-auth-submit-funding-offer)

#: Default order-creation limit: 1,000 orders per 300 s per user (bitfinex-api-node README).
ORDER_RATE_LIMIT: Final = (1000, 300.0)
#: Default calc limit: 8 calculations per second per client (ws-auth-input-calc).
CALC_RATE_LIMIT: Final = (8, 1.0)

TRADING_SYMBOL: Final = re.compile(r"t[A-Z0-9]{2,}(?::[A-Z0-9]{2,})?")
FUNDING_SYMBOL: Final = re.compile(r"f[A-Z0-9]{2,}")
DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
DATETIME: Final = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
CALC_ITEM: Final = re.compile(
    r"margin_base|balance|margin_sym_t[A-Z0-9:]{2,}|funding_sym_f[A-Z0-9]{2,}|position_t[A-Z0-9:]{2,}"
    r"|wallet_(?:exchange|margin|funding)_[A-Z0-9]{2,}"
)
# Notification CODE is "work in progress" (null) on the wire, so a rate-limit refusal can only
# be recognised by its text ("ratelimit: error", "Reached Maximum number of orders per ...").
RATE_LIMIT_TEXT: Final = re.compile(r"rate.?limit|maximum number of orders", re.IGNORECASE)
