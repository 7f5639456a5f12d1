"""The names this module held before they moved to public modules: :mod:`.connection`
(clients and error translation), :mod:`.pipeline` (the raw write pipeline) and :mod:`.hooks`
(error hooks).  Kept so that existing imports keep working; import from those modules instead."""

from __future__ import annotations

from ..exceptions import ConfigurationError, RedisUnavailableError  # noqa: F401 - imported here before
from .connection import REDIS_ERRORS, connect, is_cluster, safe_url, unavailable
from .hooks import log, report
from .pipeline import RawPipeline, pack_command

__all__ = ["REDIS_ERRORS", "RawPipeline", "connect", "is_cluster", "log", "pack_command", "report", "safe_url",
           "unavailable"]
