"""The writer thread of a :class:`~bpbfx.sinks.RedisStreamSink`: the only code that talks to Redis.

:class:`Writer` owns the thread (``<name>-writer``), the connection and its retries.  It takes
batches from the :class:`~bpbfx.sinks.publish.Publisher`, has the
:class:`~bpbfx.sinks.plan.Planner` turn them into commands, sends them as one pipelined round
(:class:`~bpbfx.sinks.pipeline.RawPipeline`) and hands the replies back to the planner.  When
Redis is down or stops answering (``socket_timeout``) the round in flight is handed to
:meth:`Planner.failed <bpbfx.sinks.plan.Planner.failed>` (a gap is owed to each of its streams,
books are published again), the trouble is reported as :class:`~bpbfx.RedisUnavailableError`
and the writer reconnects with the :class:`~bpbfx.Backoff` policy.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from ..backoff import Backoff
from ..exceptions import RedisUnavailableError
from .connection import REDIS_ERRORS, connect, safe_url, unavailable
from .pipeline import RawPipeline
from .plan import Planner
from .publish import Item, Publisher

__all__ = ["Writer"]

log = logging.getLogger("bpbfx")


class Writer:
    """Writes what a :class:`~bpbfx.sinks.publish.Publisher` queues into Redis, on its own thread.

    Args:
        publisher / planner: the sink's core (the writer takes batches from the one and has the
            other number them).
        wake: the event the publisher sets when it queued an item (the writer waits on it).
        redis: a URL, or a redis-py client (then the writer never closes it).
        cluster: for a URL: True for Redis Cluster, None to ask the server.
        batch_size: items per round.
        backoff: reconnect policy (may be replaced while running: read at each retry).
        socket_timeout: seconds Redis may take to answer before it counts as down.
        report: called with each :class:`~bpbfx.RedisUnavailableError` (writer thread).
        name: the thread is ``<name>-writer``.

    :meth:`start` starts the thread; :meth:`close` stops it.  Attributes ``connected`` and
    ``reconnects`` (connections after the first) may be read from any thread.
    """

    def __init__(
        self,
        publisher: Publisher,
        planner: Planner,
        wake: threading.Event,
        redis: Any,
        *,
        cluster: bool | None = None,
        batch_size: int = 500,
        backoff: Backoff | None = None,
        socket_timeout: float = 2.0,
        report: Callable[[BaseException], object],
        name: str = "redis-sink",
    ) -> None:
        self.publisher = publisher
        self.planner = planner
        self._url = redis if isinstance(redis, str) else None
        self._redis: Any = None if self._url is not None else redis
        self._own_client = self._url is not None
        self._cluster = cluster
        self._pipe: RawPipeline | None = None
        self.batch_size = batch_size
        self.backoff = backoff or Backoff()
        self.socket_timeout = socket_timeout
        self._report = report
        self.name = name
        self.connected = False
        self.reconnects = 0
        self._wake = wake
        self._idle = threading.Event()
        self._closing = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{name}-writer", daemon=True)

    @property
    def where(self) -> str:
        """The URL without its password, or the class of the client given."""
        return safe_url(self._url) if self._url else type(self._redis).__name__

    @property
    def url(self) -> str:
        """The URL without its password, ``""`` for a client given."""
        return safe_url(self._url or "")

    @property
    def closing(self) -> bool:
        """True once :meth:`close` has been called."""
        return self._closing.is_set()

    def start(self) -> None:
        """Start the writer thread (once).  Calling thread."""
        self._thread.start()

    def flush(self, timeout: float | None) -> bool:
        """Block until everything queued so far is written (True) or ``timeout`` passes
        (False).  Any thread but the writer's."""
        publisher = self.publisher
        deadline = None if timeout is None else time.monotonic() + timeout
        while publisher.queue or publisher.busy:
            if self._stopped.is_set():
                return not publisher.queue
            self._wake.set()
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            self._idle.clear()
            if not publisher.queue and not publisher.busy:
                break
            self._idle.wait(0.05 if remaining is None else min(0.05, remaining))
        return True

    def close(self, timeout: float) -> None:
        """Stop the thread (waiting up to ``timeout`` seconds for the round in flight) and
        close the connection the writer made.  Any thread but the writer's."""
        self._closing.set()
        self._wake.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)
        if self._own_client and self._redis is not None:
            try:
                self._redis.close()
            except Exception:  # noqa: BLE001 - closing a dead connection may fail; nothing to do
                pass

    # ------------------------------------------------------------------ the thread
    def _run(self) -> None:
        publisher = self.publisher
        attempt = 0
        while True:
            if self._redis is None or not self.connected:
                if self._closing.is_set() and not publisher.queue:
                    break
                if not self._connect():
                    attempt += 1
                    if self._closing.wait(self.backoff.delay(attempt)):
                        break
                    continue
                attempt = 0
            batch = publisher.take(self.batch_size)
            if not batch:
                if self._closing.is_set():
                    break
                self._idle.set()
                self._wake.wait(0.2)
                self._wake.clear()
                continue
            try:
                self._write(batch)
            except REDIS_ERRORS as exc:
                self._failed(batch, exc)
            except Exception as exc:  # noqa: BLE001 - a Redis error reply must not kill the writer
                self._failed(batch, exc)
            finally:
                publisher.done()
        publisher.done()
        self._idle.set()
        self._stopped.set()

    def _connect(self) -> bool:
        try:
            if self._url is not None:
                if self._redis is not None:
                    try:
                        self._redis.close()
                    except Exception:  # noqa: BLE001 - the old connection is dead anyway
                        pass
                self._redis = connect(self._url, cluster=self._cluster, socket_timeout=self.socket_timeout)
            self._redis.ping()
            self._pipe = RawPipeline(self._redis)
        except REDIS_ERRORS as exc:
            self.connected = False
            self._report(unavailable(exc, self._url or ""))
            return False
        except Exception as exc:  # noqa: BLE001 - e.g. a cluster that is not ready yet
            self.connected = False
            self._report(unavailable(exc, self._url or ""))
            return False
        if self.planner.batches or self.reconnects:
            self.reconnects += 1
            log.info("%s: connected to Redis again", self.name)
        self.connected = True
        return True

    def _execute(self, commands: list[tuple[str, list[bytes]]]) -> list[Any]:
        pipe = self._pipe
        if pipe is None:
            raise RedisUnavailableError("not connected to Redis yet")
        return pipe.execute(commands)

    def _write(self, batch: list[Item]) -> None:
        planner = self.planner
        reads = planner.epoch_reads(batch)
        if reads:
            planner.stored_epochs(reads, self._execute(reads))
        plan = planner.plan(batch)
        if not plan.commands:
            return
        confirmed = planner.confirm(plan, self._execute(plan.commands))
        if confirmed.commands:
            self._execute(confirmed.commands)
        planner.recorded(confirmed)
        if confirmed.error is not None:
            self._report(unavailable(confirmed.error, self._url or ""))

    def _failed(self, batch: list[Item], exc: BaseException) -> None:
        """A round was not confirmed: the planner owes gaps, the publisher publishes the
        books again; reconnect."""
        self.publisher.republish(self.planner.failed(batch, exc))
        self.connected = False
        err = exc if not isinstance(exc, REDIS_ERRORS) else unavailable(exc, self._url or "")
        self._report(err)
