"""A one-line progress bar for long exports (``bpbfx export`` draws it on stderr).

::

    export [###########.................]  38%  571/1502 MB  24.1 MB/s  ETA 0:38

:meth:`ProgressBar.update` redraws at most every ``interval`` seconds (the clock is injected,
so tests draw without sleeping); :meth:`ProgressBar.message` prints a line above the bar;
:meth:`ProgressBar.finish` erases it.  Calling thread; no dependency.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["ProgressBar"]


def _clock_text(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressBar:
    """Draws ``done`` out of ``total`` on ``stream`` (one line, redrawn in place).

    Args:
        stream: where to draw (a terminal: the line is rewritten with ``\\r``).
        label: the word before the bar.
        unit: ``"MB"`` (``done``/``total`` are bytes) or ``"entries"``.
        width: characters of the bar itself.
        interval: seconds between redraws.
        clock: monotonic seconds.
    """

    def __init__(self, stream: TextIO, *, label: str = "export", unit: str = "MB", width: int = 28,
                 interval: float = 0.2, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.label = label
        self.unit = unit
        self.width = width
        self.interval = interval
        self.clock = clock
        self.started = clock()
        self._last = float("-inf")
        self._shown = 0  # characters of the line on screen

    def _amount(self, value: float) -> str:
        return f"{value / 1e6:.0f}" if self.unit == "MB" else f"{value:.0f}"

    def render(self, done: int, total: int, now: float) -> str:
        """The line for ``done`` out of ``total`` at ``now`` (no drawing)."""
        fraction = min(1.0, done / total) if total > 0 else 0.0
        filled = round(fraction * self.width)
        elapsed = max(now - self.started, 1e-9)
        rate = done / elapsed
        line = (f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {fraction * 100:4.0f}%  "
                f"{self._amount(done)}/{self._amount(total)} {self.unit}  {self._amount(rate)} {self.unit}/s")
        if 0 < done < total and rate > 0:
            line += f"  ETA {_clock_text((total - done) / rate)}"
        return line

    def update(self, done: int, total: int) -> None:
        """Redraw when ``interval`` passed since the last drawing, or at the end."""
        now = self.clock()
        if now - self._last < self.interval and done < total:
            return
        self._last = now
        self._draw(self.render(done, total, now))

    def _draw(self, line: str) -> None:
        pad = " " * max(0, self._shown - len(line))
        self.stream.write(f"\r{line}{pad}")
        self.stream.flush()
        self._shown = len(line)

    def message(self, text: str) -> None:
        """Print ``text`` on its own line; the bar is drawn again at the next update."""
        self.finish()
        self.stream.write(text + "\n")
        self.stream.flush()
        self._last = float("-inf")

    def finish(self) -> None:
        """Erase the bar (idempotent)."""
        if self._shown:
            self.stream.write("\r" + " " * self._shown + "\r")
            self.stream.flush()
            self._shown = 0
