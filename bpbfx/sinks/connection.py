"""Where bpbfx meets redis-py: clients built from URLs, and its exceptions translated once.

:data:`REDIS_ERRORS` are the errors that mean "Redis is not reachable right now";
:func:`unavailable` turns one into a :class:`~bpbfx.RedisUnavailableError` whose message never
shows a password (:func:`safe_url`).  Used by the sink's writer thread and the reader's threads.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..exceptions import ConfigurationError, RedisUnavailableError

try:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("bpbfx.sinks needs the 'redis' package: pip install 'bpbfx[redis]'") from exc

__all__ = ["REDIS_ERRORS", "connect", "is_cluster", "safe_url", "unavailable"]

REDIS_ERRORS: tuple[type[BaseException], ...] = (redis.ConnectionError, redis.TimeoutError, OSError)
"""Errors that mean "Redis is not reachable right now" (retry with backoff)."""

try:
    from redis.exceptions import ClusterDownError, MasterDownError, TryAgainError

    REDIS_ERRORS = (*REDIS_ERRORS, ClusterDownError, MasterDownError, TryAgainError)
except ImportError:  # pragma: no cover - older redis-py
    pass


def safe_url(url: str) -> str:
    """``url`` without a password, for messages and reprs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else "***@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


def is_cluster(client: Any) -> bool:
    """True for a ``redis.cluster.RedisCluster`` client."""
    from redis.cluster import RedisCluster

    return isinstance(client, RedisCluster)


def connect(url: str, *, cluster: bool | None = None, socket_timeout: float = 2.0) -> Any:
    """A redis-py client for ``url`` (``redis://``, ``rediss://``, ``unix://``;
    ``redis+cluster://`` or ``cluster=True`` for Redis Cluster; ``cluster=None`` asks the
    server whether it is a cluster node).  Commands are never retried by redis-py itself:
    a timed-out ``XADD`` is reported, not silently sent twice.  Calling thread.

    Raises:
        ConfigurationError: not a Redis URL.
        RedisUnavailableError: ``cluster=None`` and the server could not be asked.
    """
    scheme = urlsplit(url).scheme
    if scheme == "redis+cluster":
        url, cluster = "redis" + url[len("redis+cluster") :], True
    elif scheme not in ("redis", "rediss", "unix"):
        raise ConfigurationError(f"not a Redis URL: {safe_url(url)!r} (redis://host:port/db or redis+cluster://host:port)")
    kwargs: dict[str, Any] = {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": socket_timeout,
        "retry": Retry(NoBackoff(), 0),
        "protocol": 2,
    }
    if cluster is None:
        probe = redis.Redis.from_url(url, **kwargs)
        try:
            cluster = str(probe.info("cluster").get("cluster_enabled", 0)) == "1"
        except REDIS_ERRORS as exc:
            raise unavailable(exc, url) from exc
        finally:
            probe.close()
    if cluster:
        from redis.cluster import RedisCluster

        try:
            return RedisCluster.from_url(url, **kwargs)
        except REDIS_ERRORS as exc:
            raise unavailable(exc, url) from exc
        except redis.RedisError as exc:
            raise unavailable(exc, url) from exc
    return redis.Redis.from_url(url, **kwargs)


def unavailable(exc: BaseException, url: str = "") -> RedisUnavailableError:
    """A :class:`RedisUnavailableError` for a redis-py / socket error (no password shown); one
    that already is a :class:`RedisUnavailableError` (from :func:`connect`) is returned as it is."""
    if isinstance(exc, RedisUnavailableError):
        return exc
    where = f" at {safe_url(url)}" if url else ""
    return RedisUnavailableError(f"Redis{where} is unavailable: {type(exc).__name__}: {exc}", url=safe_url(url))
