"""The history of a simulated Bitfinex account: its closed orders and its fills, as the
authenticated REST history endpoints give them back.

Every ``oc`` (an order closed: executed, cancelled by its owner, by ``dms`` 4 or by the
exchange) and every ``tu`` (a fill with its fee) of the account is kept, in the row and number
text the WebSocket carried, whether or not a socket of the account was there to receive it (an
order that executes while its client's socket is down shows up here with its fills).  Rows
follow docs.bitfinex.com/reference/rest-auth-orders-history (the ws-auth-orders array, newest
first) and rest-auth-trades (``[ID, PAIR, MTS_CREATE, ORDER_ID, EXEC_AMOUNT, EXEC_PRICE,
ORDER_TYPE, ORDER_PRICE, MAKER, FEE, FEE_CURRENCY, CID]``).  No I/O; used under the simulator's
lock.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

__all__: list[str] = []

_KEPT = 10_000  # rows kept of each kind per account


class _Timed(Protocol):
    @property
    def mts(self) -> int: ...


T = TypeVar("T", bound=_Timed)


def select(
    rows: deque[T],
    start: int | None,
    end: int | None,
    limit: int,
    *,
    oldest_first: bool = False,
    keep: Callable[[T], bool] | None = None,
) -> list[T]:
    """Of ``rows`` (oldest first), those with ``start <= mts <= end`` (ms, either bound
    optional) that ``keep`` accepts: the newest ``limit``, newest first, or with
    ``oldest_first`` the oldest ``limit``, oldest first (how Bitfinex's ``sort`` reads)."""
    ordered = rows if oldest_first else reversed(rows)
    found = (
        r
        for r in ordered
        if (start is None or r.mts >= start) and (end is None or r.mts <= end) and (keep is None or keep(r))
    )
    return list(itertools.islice(found, limit))


@dataclass(frozen=True, slots=True)
class _Row:
    """One kept row: what it is filtered on, and its wire text."""

    id: int
    symbol: str
    mts: int  # orders: MTS_UPDATE (when it closed); trades: MTS_CREATE
    text: str


class AccountHistory:
    """Closed orders and fills of one account, oldest first (bounded)."""

    def __init__(self) -> None:
        self.orders: deque[_Row] = deque(maxlen=_KEPT)
        self.trades: deque[_Row] = deque(maxlen=_KEPT)

    def record(self, kind: str, data: Any, text: str) -> None:
        """Keep an ``oc`` order row or a ``tu`` trade row (``text``: its wire text); other
        messages are ignored."""
        if kind == "oc" and isinstance(data, list) and len(data) > 5:
            self.orders.append(_Row(data[0], str(data[3]), int(data[5] or 0), text))
        elif kind == "tu" and isinstance(data, list) and len(data) > 3:
            self.trades.append(_Row(data[0], str(data[1]), int(data[2] or 0), text))

    def closed_orders(
        self, symbol: str | None, start: int | None, end: int | None, ids: Iterable[int] | None, limit: int
    ) -> list[str]:
        """Order rows, newest first: of ``symbol`` (or every market), closed within ``start``..
        ``end`` (ms, inclusive), only ``ids`` when given, at most ``limit``."""
        wanted = set(ids) if ids is not None else None

        def keep(r: _Row) -> bool:
            return (symbol is None or r.symbol == symbol) and (wanted is None or r.id in wanted)

        return [r.text for r in select(self.orders, start, end, limit, keep=keep)]

    def fills(
        self, symbol: str | None, start: int | None, end: int | None, limit: int, oldest_first: bool
    ) -> list[str]:
        """Trade rows of ``symbol`` (or every market) within ``start``..``end`` (ms, inclusive):
        the newest ``limit`` of them, newest first, or the oldest ones, oldest first."""
        keep = None if symbol is None else (lambda r: r.symbol == symbol)
        return [r.text for r in select(self.trades, start, end, limit, oldest_first=oldest_first, keep=keep)]
