"""Following the markets of ``bpbfx collect --all-markets``: which markets are recorded on
which worker (:class:`MarketWatch`), the units the market lists make (:func:`units_of`), and
what changed between two readings (:func:`diff_units`, :func:`change_words`).

The supervisor reads the lists at start (:meth:`MarketWatch.discover`), then a thread of the
watch re-reads them every ``markets_refresh`` seconds (:meth:`MarketWatch.start`); the
supervisor's loop takes each reading (:meth:`MarketWatch.poll`), places new markets on the
least loaded worker and tells the workers what to subscribe and unsubscribe.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ..exceptions import MarketListError
from .discovery import MarketList, fetch_markets
from .markets import MarketSelection, weights
from .shard import MarketUnit, assign

__all__ = ["MarketChanges", "MarketWatch", "change_words", "diff_units", "units_of"]


def units_of(selection: MarketSelection, listing: MarketList) -> list[MarketUnit]:
    """The markets ``selection`` keeps from ``listing``, with their streams and weights."""
    kept = selection.select(listing.markets)
    weight = weights(kept, listing.loads)
    return [MarketUnit(selection.exchange, m.symbol, tuple(selection.streams_of(m)), weight[m.symbol])
            for m in kept if selection.streams_of(m)]


def diff_units(current: Iterable[str], new: Sequence[MarketUnit]) -> tuple[list[MarketUnit], list[str]]:
    """``(added, removed)``: the units of ``new`` whose symbol is not in ``current``, and the
    symbols of ``current`` no longer in ``new``."""
    have = set(current)
    names = {u.symbol for u in new}
    return [u for u in new if u.symbol not in have], sorted(have - names)


@dataclass
class MarketChanges:
    """What one reading changed: markets placed (``(worker, unit)``) and removed."""

    added: list[tuple[int, MarketUnit]] = field(default_factory=list)
    removed: list[tuple[int, MarketUnit]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed)


def _listed(pairs: Sequence[tuple[int, MarketUnit]]) -> str:
    by: dict[str, list[str]] = {}
    for _, unit in pairs:
        by.setdefault(unit.exchange, []).append(unit.symbol)
    return "; ".join(f"{exchange}: {', '.join(symbols[:10])}" + (f" and {len(symbols) - 10} more"
                                                                  if len(symbols) > 10 else "")
                     for exchange, symbols in by.items())


def change_words(changes: MarketChanges) -> str:
    """``+2 markets (backpack: FOO_USDC, BAR_USDC), -1 (bitfinex: tXYZUSD)``."""
    parts = []
    if changes.added:
        n = len(changes.added)
        parts.append(f"+{n} market{'s' if n != 1 else ''} ({_listed(changes.added)})")
    if changes.removed:
        n = len(changes.removed)
        parts.append(f"-{n}" + ("" if parts else f" market{'s' if n != 1 else ''}") + f" ({_listed(changes.removed)})")
    return ", ".join(parts)


Fetch = Callable[[str], MarketList]


class MarketWatch:
    """The markets of ``--all-markets`` and where they are recorded.

    Args:
        selections: exchange -> what to record.
        rest_urls: exchange -> REST base of its market list (default: the exchange's).
        proxy: the collector's proxy option.
        fetch: ``(exchange) -> MarketList`` (default: :func:`~bpbfx.collect.discovery.fetch_markets`).

    :meth:`discover`, :meth:`place`, :meth:`apply` and the counts belong to the supervisor's
    thread; :meth:`start` runs the readings on a thread of the watch.
    """

    def __init__(self, selections: Mapping[str, MarketSelection], rest_urls: Mapping[str, str] | None = None,
                 proxy: str | None = None, fetch: Fetch | None = None) -> None:
        self.selections = dict(selections)
        self.rest_urls = dict(rest_urls or {})
        self.proxy = proxy
        self._fetch = fetch or (lambda e: fetch_markets(e, self.rest_urls.get(e), proxy=self.proxy))
        self.placed: dict[str, dict[str, tuple[int, MarketUnit]]] = {e: {} for e in self.selections}
        self._readings: queue.Queue[tuple[str, MarketList | MarketListError]] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def discover(self) -> list[MarketUnit]:
        """Read every exchange's list now (calling thread): the markets to record.

        Raises:
            MarketListError: a list could not be read (the message says which and why).
        """
        units: list[MarketUnit] = []
        for exchange, selection in self.selections.items():
            units.extend(units_of(selection, self._fetch(exchange)))
        return units

    def place(self, units: Sequence[MarketUnit], worker_of: Mapping[tuple[str, str], int]) -> None:
        """Remember where ``units`` went (``worker_of``: ``(exchange, stream)`` -> worker)."""
        for unit in units:
            self.placed[unit.exchange][unit.symbol] = (worker_of[(unit.exchange, unit.streams[0])], unit)

    def counts(self) -> dict[str, int]:
        """Markets recorded per exchange."""
        return {exchange: len(placed) for exchange, placed in self.placed.items()}

    # ------------------------------------------------------------------ refresh
    def start(self, interval: float) -> None:
        """Re-read the lists every ``interval`` seconds on a thread of the watch (daemon)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, args=(interval,), name="bpbfx-collect-markets",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the readings (any thread; the thread ends after a request in flight)."""
        self._stop.set()

    def refresh_now(self) -> None:
        """Read every list once more on the calling thread, queued for :meth:`poll`."""
        for exchange in self.selections:
            self._read(exchange)

    def _read(self, exchange: str) -> None:
        try:
            self._readings.put((exchange, self._fetch(exchange)))
        except MarketListError as exc:
            self._readings.put((exchange, exc))
        except Exception as exc:  # noqa: BLE001 - never let a reading kill the thread
            self._readings.put((exchange, MarketListError(f"{exchange} market list: {type(exc).__name__}: {exc}",
                                                          exchange=exchange)))

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            for exchange in self.selections:
                if self._stop.is_set():
                    return
                self._read(exchange)

    def poll(self, loads: list[float], eligible: Mapping[str, int]) -> tuple[MarketChanges, list[MarketListError]]:
        """Take the readings that arrived: markets to add (placed on the least loaded worker,
        ``loads`` updated) and to remove; failed readings are returned (their exchange keeps
        its markets).  Supervisor thread."""
        changes = MarketChanges()
        failures: list[MarketListError] = []
        while True:
            try:
                exchange, reading = self._readings.get_nowait()
            except queue.Empty:
                return changes, failures
            if isinstance(reading, MarketListError):
                failures.append(reading)
                continue
            placed = self.placed[exchange]
            added, removed = diff_units(placed, units_of(self.selections[exchange], reading))
            for symbol in removed:
                worker, unit = placed.pop(symbol)
                loads[worker] -= unit.weight * len(unit.streams)
                changes.removed.append((worker, unit))
            for unit, worker in zip(added, assign(added, loads, dict(eligible)), strict=True):
                placed[unit.symbol] = (worker, unit)
                changes.added.append((worker, unit))
