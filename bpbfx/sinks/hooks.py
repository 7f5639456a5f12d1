"""Handing a sink's or a reader's trouble to the user's hook, or to the log when there is none."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

__all__ = ["report"]

log = logging.getLogger("bpbfx")


def report(owner: Any, hook: Callable[[Any, BaseException], Any] | None, hook_name: str, exc: BaseException) -> None:
    """Hand ``exc`` to a sink's or reader's error hook (``hook(owner, exc)``), or log it when
    there is none; a hook that raises is logged, never propagated.  Runs on the caller's thread."""
    if hook is None:
        log.warning("%s: %s", owner.name, exc)
        return
    try:
        hook(owner, exc)
    except Exception:
        log.exception("%s: %s raised while handling %r", owner.name, hook_name, exc)
