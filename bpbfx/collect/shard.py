"""Spreading a collector's streams over worker processes: :class:`WorkerSpec` and :func:`shard`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..factory import ApiKeys
from .config import CollectConfig

__all__ = ["WorkerSpec", "shard"]


@dataclass(frozen=True)
class WorkerSpec:
    """What one worker process runs (picklable: it crosses the spawn boundary).

    ``keys``: API keys per exchange for private streams when they are not to be read from the
    environment (the test accounts of ``--sim``); ``metrics``: send metric samples with each
    report (the supervisor serves them).
    """

    index: int
    streams: tuple[tuple[str, str], ...]
    urls: dict[str, str]
    rest_urls: dict[str, str]
    redis: str | None
    cluster: bool | None
    output_dir: str
    sink: dict[str, Any]
    generation: int = 0
    keys: dict[str, ApiKeys] = field(default_factory=dict)
    proxy: str | None = None
    metrics: bool = False

    def recording_path(self, exchange: str) -> Path:
        """The JSONL file of ``exchange`` for this worker (a restarted worker starts a new one)."""
        suffix = f".restart{self.generation}" if self.generation else ""
        return Path(self.output_dir) / f"collect-w{self.index}-{exchange}{suffix}.jsonl"

    def by_exchange(self) -> dict[str, list[str]]:
        """The worker's streams grouped by exchange, in order."""
        out: dict[str, list[str]] = {}
        for exchange, stream in self.streams:
            out.setdefault(exchange, []).append(stream)
        return out


def shard(config: CollectConfig, urls: dict[str, str] | None = None, rest_urls: dict[str, str] | None = None,
          keys: dict[str, ApiKeys] | None = None) -> list[WorkerSpec]:
    """Spread the streams round-robin over the workers (never more workers than streams)."""
    streams = config.streams()
    n = min(config.workers, len(streams))
    parts: list[list[tuple[str, str]]] = [[] for _ in range(n)]
    for i, item in enumerate(streams):
        parts[i % n].append(item)
    return [
        WorkerSpec(i, tuple(p), dict(urls or config.urls), dict(rest_urls or config.rest_urls), config.redis,
                   config.cluster, config.output_dir, dict(config.sink), keys=dict(keys or {}), proxy=config.proxy,
                   metrics=config.metrics_port is not None)
        for i, p in enumerate(parts)
    ]
