"""Many pre-built Redis commands sent in one round per server: the sink's write path.

redis-py's own pipeline packs each argument in Python; :class:`RawPipeline` packs whole batches
with a few byte joins (:func:`pack_command`) and reads every reply, on the client's own pooled
connections.
"""

from __future__ import annotations

from typing import Any

import redis

from .connection import is_cluster

__all__ = ["RawPipeline", "pack_command"]


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
