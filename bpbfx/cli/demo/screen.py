"""How the demo looks: a full-screen view fitted to the terminal (:func:`screen`), a status
line per second when the output is not a terminal (:func:`status_line`), and the timeline as
plain lines (:func:`timeline_lines`).  Pure functions of the scenario's state and the size.

The view, top to bottom: title; per exchange a header, its books (header and best levels) and
recent trades; the cross-exchange quotes; the **timeline** (what the demo shows on purpose,
kept for the whole run); the scrolling panel of incidental events.  When the terminal is
small, blank lines go first, then book levels, trades, book headers and events; no line is
ever wider than the terminal and there are never more lines than it has.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from ...base import ClientStats
from ...live import LiveBook
from .state import DONE, FAILED, Milestone

if TYPE_CHECKING:
    from .scenario import Scenario

__all__ = ["CSI", "clip", "screen", "status_line", "timeline_lines", "wrap"]

CSI = "\x1b["
_LEVELS = 5


def _style(on: bool, code: str, text: str) -> str:
    return f"{CSI}{code}m{text}{CSI}0m" if on else text


def _fmt(d: Decimal | None, width: int = 0, places: int | None = None) -> str:
    if d is None:
        text = "-"
    elif places is not None:
        text = format(d.quantize(Decimal(1).scaleb(-places)) if places >= 0 else d, "f")
    else:
        text = format(d, "f")
    return text.rjust(width) if width else text


def _places(values: Sequence[Decimal]) -> int:
    """Decimal places to show a column with (the most any value has): REST and WebSocket write
    the same price differently (``86700`` / ``86700.0``)."""
    most = 0
    for v in values:
        exponent = v.as_tuple().exponent
        if isinstance(exponent, int):
            most = max(most, -exponent)
    return most


def _visible(line: str) -> int:
    """Characters a line shows (ANSI styles not counted)."""
    n = 0
    i = 0
    while i < len(line):
        if line.startswith(CSI, i):
            end = line.find("m", i)
            i = len(line) if end < 0 else end + 1
            continue
        n += 1
        i += 1
    return n


def clip(line: str, width: int) -> str:
    """Cut a line to fewer than ``width`` visible characters (ANSI styles kept intact): the
    last column stays free, so no terminal wraps the line."""
    visible = 0
    out = []
    i = 0
    while i < len(line):
        if line.startswith(CSI, i):
            end = line.find("m", i)
            if end < 0:
                break
            out.append(line[i : end + 1])
            i = end + 1
            continue
        if visible >= width - 1:
            out.append(f"{CSI}0m")
            break
        out.append(line[i])
        visible += 1
        i += 1
    return "".join(out)


def _pick(width: int, *variants: str) -> str:
    """The first variant that fits in ``width`` (the last one clipped if none does)."""
    for text in variants:
        if _visible(text) < width:
            return text
    return clip(variants[-1], width)


def wrap(text: str, width: int, indent: str = "  ") -> list[str]:
    """``text`` in lines narrower than ``width`` (continuations indented)."""
    return textwrap.wrap(text, max(10, width - 1), subsequent_indent=indent, break_on_hyphens=False) or [""]


def _milestone(m: Milestone, color: bool, width: int) -> list[str]:
    """One timeline entry: on one line if it fits (without its detail if need be), else
    wrapped under its text."""
    head = f"  {m.at:5.1f}s  {m.exchange:<9} "
    code = "32" if m.state == DONE else ("31" if m.state == FAILED else "33")
    for text in (m.text(), m.text(detail=False)):
        if len(head) + len(text) < width:
            return [head + _style(color, code, text)]
    room = max(10, width - 1 - len(head))
    parts = textwrap.wrap(m.text(detail=False), room, break_on_hyphens=False) or [""]
    return [clip((head if i == 0 else " " * len(head)) + _style(color, code, part), width)
            for i, part in enumerate(parts)]


def timeline_lines(scenario: Scenario, color: bool = False, width: int = 10_000) -> list[str]:
    """The timeline as lines (no header)."""
    return [line for m in scenario.timeline.items() for line in _milestone(m, color, width)]


def status_line(scenario: Scenario, elapsed: float, stats: dict[str, ClientStats | None]) -> str:
    """One line of figures (output that is not a terminal, once a second)."""
    parts = []
    for name, panel in scenario.panels.items():
        s = stats.get(name)
        if s is None or panel.client is None:
            continue
        books = panel.client.books
        valid = sum(1 for b in books.values() if b.valid)
        age = "-" if s.last_message_age is None else f"{s.last_message_age:.2f}s"
        parts.append(
            f"{name} msgs={s.messages} rate={panel.rate():.0f}/s reconnects={s.reconnects} last={age} "
            f"book_checks={s.book_checks} resyncs={panel.resyncs} books_valid={valid}/{len(books)} "
            f"errors={panel.errors}"
        )
    return f"[{elapsed:6.1f}s] " + " | ".join(parts) + " | cross " + scenario.cross.line()


@dataclass(frozen=True)
class _Layout:
    levels: int
    blanks: bool
    trades: bool
    book_headers: bool
    cross_lines: int
    min_events: int
    headers: bool = True  # the exchanges' header lines and the timeline's title


# From the fullest view down to the barest: the first that fits is used.
_LAYOUTS = (
    *(_Layout(n, True, True, True, 2, 4) for n in range(_LEVELS, 1, -1)),
    *(_Layout(n, False, True, True, 2, 3) for n in range(_LEVELS, 0, -1)),
    _Layout(0, False, True, True, 1, 2),
    _Layout(0, False, False, True, 1, 1),
    _Layout(0, False, False, False, 1, 1),
    _Layout(0, False, False, False, 0, 0),
    _Layout(0, False, False, False, 0, 0, headers=False),  # the title and the timeline
)


class _View:
    """Builds the lines of one frame for a width."""

    def __init__(self, scenario: Scenario, stats: dict[str, ClientStats | None], width: int, color: bool) -> None:
        self.s = scenario
        self.stats = stats
        self.width = width
        self.c = color

    def title(self, elapsed: float) -> str:
        left = "" if self.s.duration is None else f" of {self.s.duration:g}s"
        head = _style(self.c, "1", f"bpbfx demo  {elapsed:5.1f}s{left}")
        return _pick(self.width, head + "   both exchanges simulated on 127.0.0.1; Ctrl-C to stop",
                     head + "   Ctrl-C to stop", head)

    def exchange(self, name: str, layout: _Layout) -> list[str]:
        panel = self.s.panels[name]
        s = self.stats.get(name)
        if s is None or panel.client is None:
            return []
        age = "-" if s.last_message_age is None else f"{s.last_message_age:.2f}s ago"
        label = _style(self.c, "1;36", f"{name.upper():<9}")
        errors = _style(self.c, "31", f"errors {panel.errors}") if panel.errors else f"errors {panel.errors}"
        figures = (f"msgs {s.messages:>7} {panel.rate():5.0f}/s   reconnects {s.reconnects}   "
                   f"checks {s.book_checks}   resyncs {panel.resyncs}   {errors}")
        lines = [_pick(self.width, f"{label} {panel.url}  last msg {age}   {figures}",
                       f"{label} {panel.url}  {figures}", f"{label} {figures}",
                       f"{label} msgs {s.messages} resyncs {panel.resyncs} {errors}")]
        books = panel.client.books
        if layout.book_headers:
            for stream, book in books.items():
                lines.extend(self.book(panel.book_syncs(stream), stream, book, layout.levels))
        if layout.trades:
            trades = list(panel.trades)[::-1]
            row = "  ".join(
                f"{sym} {_style(self.c, '32' if side == 'buy' else '31', side)} {_fmt(size)}@{_fmt(price)}"
                for sym, side, price, size in trades[:4]
            )
            lines.append(clip(f"  recent trades: {row or '-'}", self.width))
        return lines

    def book(self, syncs: int, stream: str, book: LiveBook, levels: int) -> list[str]:
        snap = book.snapshot(_LEVELS)
        state = _style(self.c, "32", "valid  ") if snap.valid else _style(self.c, "31", "SYNCING")
        bid, ask = snap.best_bid(), snap.best_ask()
        px = _places([lv.price for lv in snap.bids + snap.asks])
        sz = _places([lv.size for lv in snap.bids + snap.asks])
        best_bid = f"{_fmt(bid.price, places=px)} x {_fmt(bid.size, places=sz)}" if bid else "-"
        best_ask = f"{_fmt(ask.price, places=px)} x {_fmt(ask.size, places=sz)}" if ask else "-"
        spread = _fmt(snap.spread(), places=px)
        resyncs = max(0, syncs - 1)
        lines = [_pick(
            self.width,
            f"  {stream:<22} {state} #{snap.update_id!s:<11} bid {best_bid}  ask {best_ask}  spread {spread}"
            f"  resyncs {resyncs}",
            f"  {stream:<22} {state} bid {best_bid}  ask {best_ask}  resyncs {resyncs}",
            f"  {stream} {state} {_fmt(bid.price if bid else None)}/{_fmt(ask.price if ask else None)}",
        )]
        for i in range(levels):
            b = snap.bids[i] if i < len(snap.bids) else None
            a = snap.asks[i] if i < len(snap.asks) else None
            lines.append(clip(
                f"      {_fmt(b.size if b else None, 14, sz)} {_fmt(b.price if b else None, 12, px)}"
                f" | {_fmt(a.price if a else None, 12, px)} {_fmt(a.size if a else None, 14, sz)}",
                self.width,
            ))
        return lines

    def cross(self, count: int) -> list[str]:
        if count <= 0:
            return []
        q = self.s.cross
        label = _style(self.c, "1", "cross-exchange")
        quotes = []
        for name in self.s.panels:
            quote = q.quote(name)
            quotes.append(f"{name} -" if quote is None else
                          f"{name} {quote.bid} / {quote.ask} (spread {quote.spread()})")
        first = f"{label}  {q.symbol}  " + "  ".join(quotes)
        names = list(self.s.panels)
        spreads = ""
        if len(names) == 2 and all(q.quote(n) is not None for n in names):
            a, b = names
            qa, qb = q.quote(a), q.quote(b)
            assert qa is not None and qb is not None
            mid_a, mid_b = qa.mid(), qb.mid()
            diff = f"mid {b}-{a} {(mid_b - mid_a).normalize():f}   " if mid_a is not None and mid_b is not None else ""
            spreads = f"{diff}buy {a}/sell {b} {q.cross(a, b)}   buy {b}/sell {a} {q.cross(b, a)}"
        if count == 1 or not spreads:
            return [_pick(self.width, first + "  " + spreads if spreads else first, first)]
        return [clip(first, self.width), clip("    " + spreads, self.width)]

    def events(self, n: int) -> list[str]:
        out = []
        for t, exchange, text, warn in self.s.notices.recent(n):
            out.append(clip(f"  {t:6.1f}s  {exchange:<9} " + (_style(self.c, "33", text) if warn else text),
                            self.width))
        return out

    def frame(self, layout: _Layout, elapsed: float, events: int) -> list[str]:
        blank = [""] if layout.blanks else []
        lines = [self.title(elapsed), *blank]
        if layout.headers:
            for name in self.s.panels:
                lines += self.exchange(name, layout) + blank
        lines += self.cross(layout.cross_lines) + blank
        if layout.headers:
            lines.append(_style(self.c, "1", "timeline") + "  (what the demo shows on purpose)" if self.width > 50
                         else _style(self.c, "1", "timeline"))
        lines += timeline_lines(self.s, self.c, self.width) or ["  -"]
        if events > 0:
            lines += [*blank, _style(self.c, "1", "events"), *self.events(events)]
        return lines


def screen(
    scenario: Scenario,
    elapsed: float,
    stats: dict[str, ClientStats | None],
    size: tuple[int, int],
    color: bool,
    footer: Sequence[str] = (),
) -> list[str]:
    """The lines of one frame for a terminal of ``size`` (columns, rows), ``footer`` lines at
    the bottom (the final summary): never more lines than rows, none as wide as a row."""
    width, rows = max(20, size[0]), max(1, size[1])
    view = _View(scenario, stats, width, color)
    room = rows - len(footer)
    lines: list[str] = []
    for layout in _LAYOUTS:
        lines = view.frame(layout, elapsed, layout.min_events)
        if len(lines) <= room:
            spare = room - len(lines)
            if layout.min_events > 0 and spare > 0:
                lines = view.frame(layout, elapsed, layout.min_events + spare)
            break
    lines = lines[: max(0, room)] + [clip(line, width) for line in footer]
    return lines[:rows]
