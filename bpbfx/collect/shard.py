"""Spreading a collector's streams over worker processes: :class:`WorkerSpec`, :func:`shard`
and, for the markets of ``--all-markets``, balancing by expected load (:func:`assign`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..factory import ApiKeys
from .budget import bitfinex_workers, sockets_needed, split_connect_budget
from .config import CollectConfig

__all__ = ["MarketUnit", "WorkerSpec", "assign", "shard"]


@dataclass(frozen=True)
class WorkerSpec:
    """What one worker process runs (picklable: it crosses the spawn boundary).

    ``keys``: API keys per exchange for private streams when they are not to be read from the
    environment (the test accounts of ``--sim``); ``metrics``: send metric samples with each
    report (the supervisor serves them); ``connect_limit``: the worker's share of the Bitfinex
    connection budget (None: the client's own default); ``connect_delay``: seconds to wait
    before the first Bitfinex connect (a restarted worker whose predecessor's connects still
    count against its share).
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
    connect_limit: tuple[int, float] | None = None
    connect_delay: float = 0.0

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


@dataclass(frozen=True)
class MarketUnit:
    """One market of ``--all-markets``: its streams go to one worker together.  ``weight``:
    its expected load (1 = an average market of its exchange, per stream)."""

    exchange: str
    symbol: str
    streams: tuple[str, ...]
    weight: float = 1.0


def assign(units: Sequence[MarketUnit], loads: list[float], eligible: dict[str, int]) -> list[int]:
    """The worker of each unit: heaviest first, each onto the least loaded worker among the
    first ``eligible[exchange]`` (longest-processing-time-first); ``loads`` (per worker) is
    updated.  Busy markets land on different workers, quiet ones fill the gaps."""
    out = [0] * len(units)
    order = sorted(range(len(units)), key=lambda i: (-units[i].weight * len(units[i].streams), i))
    for i in order:
        unit = units[i]
        n = max(1, min(len(loads), eligible.get(unit.exchange, len(loads))))
        best = min(range(n), key=lambda w: (loads[w], w))
        out[i] = best
        loads[best] += unit.weight * len(unit.streams)
    return out


def shard(config: CollectConfig, urls: dict[str, str] | None = None, rest_urls: dict[str, str] | None = None,
          keys: dict[str, ApiKeys] | None = None, *, markets: Sequence[MarketUnit] = (),
          connect_limit: tuple[int, float] | None = None) -> list[WorkerSpec]:
    """Spread the streams round-robin over the workers (never more workers than streams and
    markets), then the ``markets`` by expected load (:func:`assign`; Bitfinex ones on at most
    as many workers as ``connect_limit`` has connects).  With ``connect_limit`` every worker
    with Bitfinex channels gets its share of it (:func:`~bpbfx.collect.budget.split_connect_budget`)."""
    streams = config.streams()
    n = max(1, min(config.workers, len(streams) + len(markets)))
    parts: list[list[tuple[str, str]]] = [[] for _ in range(n)]
    eligible = {"bitfinex": bitfinex_workers(n, connect_limit)}
    bitfinex_seen = 0
    for i, item in enumerate(streams):
        if item[0] == "bitfinex" and eligible["bitfinex"] < n:
            parts[bitfinex_seen % eligible["bitfinex"]].append(item)
            bitfinex_seen += 1
        else:
            parts[i % n].append(item)
    loads = [float(len(p)) for p in parts]
    for unit, w in zip(markets, assign(markets, loads, eligible), strict=True):
        parts[w].extend((unit.exchange, s) for s in unit.streams)
    limits: list[tuple[int, float] | None] = [None] * n
    if connect_limit is not None:
        needs = [sockets_needed(sum(1 for e, s in p if e == "bitfinex" and s not in ("account", "auth")))
                 for p in parts]
        limits = split_connect_budget(needs, connect_limit)
    return [
        WorkerSpec(i, tuple(p), dict(urls or config.urls), dict(rest_urls or config.rest_urls), config.redis,
                   config.cluster, config.output_dir, dict(config.sink), keys=dict(keys or {}), proxy=config.proxy,
                   metrics=config.metrics_port is not None, connect_limit=limits[i])
        for i, p in enumerate(parts)
    ]
