"""Where bpbfx meets redis-py: building clients from URLs and translating its exceptions."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..exceptions import ConfigurationError, RedisUnavailableError

try:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("bpbfx.sinks needs the 'redis' package: pip install 'bpbfx[redis]'") from exc

__all__ = ["REDIS_ERRORS", "connect", "is_cluster", "report", "safe_url", "unavailable"]

log = logging.getLogger("bpbfx")

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


def unavailable(exc: BaseException, url: str = "") -> RedisUnavailableError:
    """A :class:`RedisUnavailableError` for a redis-py / socket error (no password shown)."""
    where = f" at {safe_url(url)}" if url else ""
    return RedisUnavailableError(f"Redis{where} is unavailable: {type(exc).__name__}: {exc}", url=safe_url(url))


def pack_command(args: list[bytes]) -> bytes:
    """One command in the Redis protocol (RESP2 array of bulk strings)."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


class RawPipeline:
    """Sends many pre-built commands in one round per server and reads every reply.

    redis-py's own pipeline packs each argument in Python and was measured here at about a
    third of the entries per second; this packs them with a few byte joins, on the client's
    own pooled connections (so its timeouts, TLS and auth apply).  On Redis Cluster the
    commands are grouped by the node owning their key; a ``MOVED``/``ASK`` reply refreshes the
    slot map and runs that command again through the cluster client (it was not executed).
    Writer thread only.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.cluster = is_cluster(client)

    def execute(self, commands: list[tuple[str, list[bytes]]]) -> list[Any]:
        """Run ``(key, args)`` commands; returns the replies in order, an error reply as a
        ``redis.ResponseError`` value.

        Raises:
            redis.ConnectionError / redis.TimeoutError / OSError: the round failed; which
                commands ran is unknown.
        """
        replies: list[Any] = [None] * len(commands)
        if not self.cluster:
            self._round(self.client, list(range(len(commands))), commands, replies)
            return replies
        groups: dict[str, tuple[Any, list[int]]] = {}
        for i, (key, _) in enumerate(commands):
            node = self.client.get_node_from_key(key)
            group = groups.get(node.name)
            if group is None:
                group = groups[node.name] = (self.client.get_redis_connection(node), [])
            group[1].append(i)
        for server, indices in groups.values():
            self._round(server, indices, commands, replies)
        moved = [i for i, r in enumerate(replies) if isinstance(r, redis.ResponseError)
                 and str(r).startswith(("MOVED", "ASK"))]
        if moved:
            self.client.nodes_manager.initialize()
            for i in moved:
                try:
                    replies[i] = self.client.execute_command(*commands[i][1])
                except redis.ResponseError as exc:
                    replies[i] = exc
        return replies

    @staticmethod
    def _round(server: Any, indices: list[int], commands: list[tuple[str, list[bytes]]], replies: list[Any]) -> None:
        pool = server.connection_pool
        conn = pool.get_connection()
        try:
            conn.send_packed_command([b"".join(pack_command(commands[i][1]) for i in indices)])
            for i in indices:
                try:
                    replies[i] = conn.read_response()
                except redis.ResponseError as exc:
                    replies[i] = exc
        except BaseException:
            conn.disconnect()  # a half-read reply stream cannot be reused
            raise
        finally:
            pool.release(conn)
