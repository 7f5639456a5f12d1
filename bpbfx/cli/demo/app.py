"""The demo's main loop: inject the faults on time, redraw the screen on a terminal (sized
afresh every frame) or print notices and a status line per second otherwise, and end with
the timeline and a summary."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from typing import IO

from ...base import ClientStats
from ..errors import EXIT_FAILURE, EXIT_OK, Terminated, interrupted_status
from .scenario import Scenario
from .screen import CSI, screen, status_line, timeline_lines, wrap

__all__ = ["DemoApp"]


class DemoApp:
    """Runs a :class:`~.scenario.Scenario` and shows it on ``out`` (main thread)."""

    def __init__(self, duration: float | None, out: IO[str]) -> None:
        self.out = out
        try:
            self.tty = out.isatty()
        except (AttributeError, ValueError):
            self.tty = False
        self.color = self.tty and not os.environ.get("NO_COLOR")
        self.scenario = Scenario(duration)

    def _stats(self, now: float) -> dict[str, ClientStats | None]:
        return {name: panel.sample(now) for name, panel in self.scenario.panels.items()}

    def _size(self) -> tuple[int, int]:
        size = shutil.get_terminal_size((100, 40))
        return size.columns, size.lines

    def render(self, footer: list[str] | None = None) -> None:
        """Draw one frame (terminal) or print what happened since the last call (plain).  The
        final frame (with a ``footer``) leaves the last row free for the shell's prompt."""
        now = time.monotonic()
        elapsed = now - self.scenario.started
        stats = self._stats(now)
        if self.tty:
            columns, rows = self._size()
            size = (columns, rows - 1 if footer else rows)
            lines = screen(self.scenario, elapsed, stats, size, self.color, footer or ())
            self.out.write(f"{CSI}H" + f"{CSI}K\n".join(lines) + f"{CSI}K{CSI}J")
        else:
            for t, exchange, text, _ in self.scenario.notices.new():
                self.out.write(f"[{t:6.1f}s] {exchange}: {text}\n")
            self.out.write(status_line(self.scenario, elapsed, stats) + "\n")
        self.out.flush()

    def run(self) -> int:
        """Run until ``duration`` or Ctrl-C / SIGTERM; returns the exit status."""
        scenario = self.scenario
        refresh = 0.25 if self.tty else 1.0
        interrupted: BaseException | None = None
        with contextlib.ExitStack() as stack:
            if self.tty:
                self.out.write(f"{CSI}2J{CSI}H{CSI}?25l")
                stack.callback(lambda: self.out.write(f"{CSI}?25h"))
            scenario.setup(stack)
            next_render = time.monotonic() + (0.0 if self.tty else refresh)
            next_sample = time.monotonic()
            try:
                while True:
                    now = time.monotonic()
                    elapsed = now - scenario.started
                    scenario.inject_faults(elapsed)
                    if scenario.duration is not None and elapsed >= scenario.duration:
                        break
                    if now >= next_render:
                        self.render()
                        next_render = now + refresh
                        next_sample = now + 0.25
                    elif now >= next_sample:
                        for panel in scenario.panels.values():
                            panel.sample(now)
                        next_sample = now + 0.25
                    time.sleep(0.05)
            except (KeyboardInterrupt, Terminated) as exc:
                interrupted = exc
            summary, ok = scenario.summary()
            if self.tty:
                self.render(footer=wrap(summary, self._size()[0]))
                self.out.write("\n")
            else:
                self.render()
                self.out.write("timeline:\n" + "".join(line + "\n" for line in timeline_lines(scenario)))
                self.out.write(summary + "\n")
            self.out.flush()
            stack.close()
        self.out.flush()
        if interrupted is not None and scenario.duration is not None:
            return interrupted_status(interrupted, True)
        return EXIT_OK if ok else EXIT_FAILURE
