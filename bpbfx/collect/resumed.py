"""Which streams a collector worker takes over from an earlier writer.

A :class:`~bpbfx.sinks.RedisStreamSink` that starts writing a stream an earlier writer left in
Redis first writes a ``gap`` entry with reason ``writer_restart`` (what happened in between
is unknown) and numbers on with epoch + 1.  A clean re-run of ``bpbfx collect`` on the same
Redis therefore reports one gap per stream; the collector asks Redis, before its clients
start, which of its streams already exist, so that it can report those gaps as what they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["existing_streams"]


def _client(url: str, cluster: bool | None) -> Any:
    import redis

    if url.startswith("redis+cluster://"):
        url, cluster = "redis" + url[len("redis+cluster") :], True
    options: dict[str, Any] = {"socket_timeout": 2.0, "socket_connect_timeout": 2.0}
    if cluster is None:
        probe = redis.Redis.from_url(url, **options)
        try:
            cluster = str(probe.info("cluster").get("cluster_enabled", 0)) == "1"
        finally:
            probe.close()
    if cluster:
        from redis.cluster import RedisCluster

        return RedisCluster.from_url(url, **options)
    return redis.Redis.from_url(url, **options)


def existing_streams(url: str, cluster: bool | None, keys: Sequence[str]) -> set[str]:
    """The stream ``keys`` whose ``:meta`` hash holds an epoch: streams an earlier writer
    numbered.  Best effort: an unreachable Redis (the sink reports that itself) gives an empty
    set.  Calling thread."""
    if not keys:
        return set()
    try:
        import redis

        from ..sinks.wire import meta_key
    except ImportError:
        return set()
    try:
        client = _client(url, cluster)
        try:
            return {key for key in keys if client.hget(meta_key(key), "epoch") is not None}
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError):
        return set()
