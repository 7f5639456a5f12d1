"""The ``bpbfx`` command (also ``python -m bpbfx``).

Sub-commands::

    bpbfx demo    [--duration S]                         both exchanges, simulated, with a recovery shown live
    bpbfx stream  EXCHANGE STREAM... [--sim|--url URL]    one JSON line per event on stdout
    bpbfx record  EXCHANGE STREAM... -o FILE              every raw frame, with receive times, to a file
    bpbfx replay  FILE... [--speed X] [--serve]           a recording through the decode path, or served
    bpbfx sim     EXCHANGE [--port N]                     a simulator on 127.0.0.1 until Ctrl-C
    bpbfx collect [CONFIG.toml] [--workers N] [--redis URL] streams over worker processes into Redis or JSONL
    bpbfx tail    URL STREAM...                           what a reader of published Redis streams sees
    bpbfx bench   [--scale X] [--only TEXT]               the transport benchmark (bpbfx.bench.throughput)

Exit status: 0 success; 1 a runtime failure (unreachable host, an exchange that never delivered,
a missing optional package); 2 a usage error (unknown exchange, bad stream name, missing keys);
130 interrupted before the command's own end (Ctrl-C during a ``--duration``/``--max-*`` run;
a command that runs until Ctrl-C by design exits 0).  Expected errors print one line on stderr,
never a traceback.

Events are printed by :func:`event_json` (``{"event": <class>, "stream", "symbol", fields...}``,
Decimals as strings), the same for ``stream`` and ``replay``, so a replayed recording can be
compared line by line with what was seen live.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from enum import Enum
from types import FrameType
from typing import IO, TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit

from . import __version__
from .backoff import Backoff
from .base import BaseClient, ClientStats
from .events import Event, UnknownEvent
from .exceptions import BpbfxError, ConfigurationError, TransportError

if TYPE_CHECKING:
    from .live import OrderBookUpdate
    from .recording import Record

__all__ = ["EXCHANGES", "event_dict", "event_json", "main", "stats_dict"]

EXCHANGES = ("backpack", "bitfinex")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


# ============================================================================== errors and signals
class UsageError(Exception):
    """The command line asks for something invalid (exit status 2)."""


class CommandError(Exception):
    """The command could not do its job (exit status 1)."""


class _Terminated(BaseException):
    """Raised on the main thread by the SIGTERM handler."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _Terminated


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM into :class:`_Terminated` on the main thread while the command runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupted_status(exc: BaseException, bounded: bool) -> int:
    """Exit status after Ctrl-C / SIGTERM: 0 for a command that runs until stopped by design,
    130 (Ctrl-C) or 143 (SIGTERM) when it was cut short."""
    if not bounded:
        return EXIT_OK
    return EXIT_INTERRUPTED if isinstance(exc, KeyboardInterrupt) else 128 + signal.SIGTERM


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line (raised as :class:`UsageError`)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {message} (see {self.prog} --help)")


# ============================================================================== event formatting
_FIELDS: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = tuple(
            f.name
            for f in dataclasses.fields(cls)
            if f.name not in ("stream", "symbol") and (f.repr or (f.name == "data" and issubclass(cls, UnknownEvent)))
        )
        _FIELDS[cls] = names
    return names


def event_dict(event: Event) -> dict[str, Any]:
    """A plain dict of an event: ``event`` (class name), ``stream``, ``symbol``, then every
    field shown by its ``repr`` (the raw ``data`` only for :class:`UnknownEvent`).  Values are
    left as they are (see :func:`event_json` for the JSON text)."""
    out: dict[str, Any] = {"event": type(event).__name__, "stream": event.stream, "symbol": event.symbol}
    for name in _field_names(type(event)):
        out[name] = getattr(event, name)
    return out


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, Event):
        return {name: getattr(obj, name) for name in _field_names(type(obj))}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.repr}
    if isinstance(obj, (bytes, bytearray)):
        return obj.decode("utf-8", "replace")
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=str)
    if hasattr(obj, "items"):
        return dict(obj.items())
    return str(obj)


def event_json(event: Event) -> str:
    """One line of compact JSON for an event (Decimals as strings), as ``bpbfx stream`` prints."""
    return json.dumps(event_dict(event), default=_json_default, separators=(",", ":"))


def _pretty_value(value: Any) -> str:
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, Decimal) for v in value):
        return f"{value[0]}x{value[1]}"  # a (price, size) level
    if isinstance(value, (tuple, list)):
        if value and all(isinstance(v, (tuple, list)) and len(v) == 2 for v in value):
            return "[" + " ".join(f"{_pretty_value(p)}x{_pretty_value(q)}" for p, q in value) + "]"
        return "[" + " ".join(_pretty_value(v) for v in value) + "]"
    if isinstance(value, Enum):
        return str(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return "{" + " ".join(f"{k}={_pretty_value(v)}" for k, v in _json_default(value).items()) + "}"
    return str(value)


def event_pretty(event: Event, name: str | None = None) -> str:
    """A human-readable line for an event: local time, class (or ``name``), stream,
    ``field=value``..."""
    d = event_dict(event)
    kind = d.pop("event")
    head = f"{time.strftime('%H:%M:%S')} {name or kind:<14} {d.pop('stream')}"
    d.pop("symbol", None)
    return head + "  " + " ".join(f"{k}={_pretty_value(v)}" for k, v in d.items())


def stats_dict(stats: ClientStats) -> dict[str, Any]:
    """A client's stats snapshot as plain JSON-ready data (ages rounded to milliseconds)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(stats):
        value = getattr(stats, f.name)
        if f.name == "streams":
            value = {
                name: {"messages": s.messages, "last_message_age": _age(s.last_message_age)}
                for name, s in value.items()
            }
        elif f.name == "last_message_age":
            value = _age(value)
        out[f.name] = value
    return out


def _age(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or repr(exc)
    return f"{type(exc).__name__}: {text}"


# ============================================================================== output
class _Output:
    """Serialises event lines from the clients' reader threads onto stdout.

    Counts lines against ``limit`` (``done`` is set when reached; later events are dropped),
    flushes every line on a terminal and on :meth:`flush` otherwise, and treats a closed pipe
    (``bpbfx stream ... | head``) as the end of the run.
    """

    def __init__(self, stream: IO[str], *, pretty: bool = False, limit: int | None = None) -> None:
        self.stream = stream
        self.format: Callable[[Event], str] = event_pretty if pretty else event_json
        self.limit = limit
        self.count = 0
        self.done = threading.Event()
        self.broken = False
        self._lock = threading.Lock()
        try:
            self._tty = stream.isatty()
        except (AttributeError, ValueError):
            self._tty = False

    def event(self, client: Any, event: Event) -> None:
        """``on_message`` hook (reader thread)."""
        self.line(self.format(event))

    def book(self, client: Any, update: OrderBookUpdate) -> None:
        """``on_book`` hook (reader thread): the update plus the book's best levels."""
        d = event_dict(update)
        d["event"] = "on_book"  # the client's managed book, not an exchange frame
        d["best_bid"] = update.book.best_bid()
        d["best_ask"] = update.book.best_ask()
        if self.format is event_pretty:
            best = f" best_bid={_pretty_value(d['best_bid'])} best_ask={_pretty_value(d['best_ask'])}"
            self.line(event_pretty(update, "on_book") + best)
        else:
            self.line(json.dumps(d, default=_json_default, separators=(",", ":")))

    def line(self, text: str) -> None:
        """Write one line (any thread)."""
        with self._lock:
            if self.done.is_set():
                return
            try:
                self.stream.write(text + "\n")
                if self._tty:
                    self.stream.flush()
            except (BrokenPipeError, ValueError):
                self._broken()
                return
            self.count += 1
            if self.limit is not None and self.count >= self.limit:
                self.done.set()

    def flush(self) -> None:
        """Flush buffered lines (main thread, periodically)."""
        with self._lock:
            if self.broken:
                return
            try:
                self.stream.flush()
            except (BrokenPipeError, ValueError):
                self._broken()

    def _broken(self) -> None:
        self.broken = True
        self.done.set()
        # Later writes by the interpreter (at exit) must not fail again on the closed pipe.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.stream.fileno())
            os.close(devnull)


class _ErrorPrinter:
    """``on_error`` hook: one line per error on stderr.

    Until the first connection opens, transport errors are only remembered (an unreachable
    host is then reported once, by the command, instead of once per retry).
    """

    def __init__(self, label: str, stream: IO[str] | None = None) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.opened = threading.Event()
        self.last_transport_error: BaseException | None = None
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, client: Any, exc: BaseException) -> None:
        if isinstance(exc, TransportError) and not self.opened.is_set():
            self.last_transport_error = exc
            return
        self.print(_describe(exc), error=True)

    def print(self, text: str, *, error: bool = False) -> None:
        """One line on stderr (any thread); ``error`` counts it as an error."""
        with self._lock:
            if error:
                self.count += 1
            with contextlib.suppress(OSError, ValueError):
                self.stream.write(f"{self.label}: {text}\n")
                self.stream.flush()

    def on_open(self, client: Any) -> None:
        """``on_open`` hook."""
        self.opened.set()


# ============================================================================== clients and simulators
def _require_sim(exchange: str) -> Any:
    """The simulator class of ``exchange``; one clear error when ``websockets`` is missing."""
    try:
        if exchange == "backpack":
            from .sim.backpack import BackpackSimulator

            return BackpackSimulator
        from .sim.bitfinex import BitfinexSimulator

        return BitfinexSimulator
    except ImportError as exc:
        if "websockets" in str(exc):
            raise CommandError(
                "the simulators need the 'websockets' package: pip install 'bpbfx[sim]'"
            ) from None
        raise CommandError(f"the {exchange} simulator is not available: {exc}") from None


def _start_sim(exchange: str, streams: Sequence[str] = (), port: int = 0, extra_markets: Sequence[Any] = ()) -> Any:
    """Start the built-in simulator of ``exchange`` on 127.0.0.1 (Backpack: every market the
    streams name is added to the default ones, so any symbol is live; ``extra_markets`` are
    Backpack ``MarketSpec`` values to add)."""
    cls = _require_sim(exchange)
    kwargs: dict[str, Any] = {"port": port}
    if exchange == "backpack" and (streams or extra_markets):
        from .backpack.protocol import stream_symbol
        from .sim.backpack import DEFAULT_MARKETS

        markets: list[Any] = [*DEFAULT_MARKETS, *extra_markets]
        known = {m.symbol for m in markets}
        for stream in streams:
            symbol = stream_symbol(stream)
            if symbol and symbol not in known and not stream.startswith("account."):
                known.add(symbol)
                markets.append(symbol)
        kwargs["markets"] = markets
    try:
        return cls(**kwargs).start()
    except OSError as exc:
        raise CommandError(f"could not start the {exchange} simulator on port {port}: {exc.strerror or exc}") from None


def _admit_keys(sim: Any, client: BaseClient) -> None:
    """Let the Bitfinex simulator accept the keys the client authenticates with (the Backpack
    simulator accepts any key whose signature verifies)."""
    credentials = getattr(client, "credentials", None)
    if credentials is not None and hasattr(sim, "add_account"):
        sim.add_account(credentials.api_key, credentials.api_secret)


def _rest_url_for(url: str) -> str | None:
    """REST base of a simulator-like WebSocket URL on a loopback host (``ws://127.0.0.1:N`` ->
    ``http://127.0.0.1:N``); ``None`` for any other URL."""
    parts = urlsplit(url)
    if parts.hostname in ("127.0.0.1", "localhost", "::1") and parts.scheme in ("ws", "wss"):
        scheme = "https" if parts.scheme == "wss" else "http"
        return f"{scheme}://{parts.netloc}"
    return None


def _bitfinex_specs(streams: Sequence[str]) -> tuple[list[str], bool]:
    """Split Bitfinex stream specs into channels and whether ``account`` (auth) was asked."""
    channels = [s for s in streams if s not in ("account", "auth")]
    return channels, len(channels) != len(streams)


def _validate_streams(exchange: str, streams: Sequence[str]) -> None:
    """Check every stream name before anything starts.

    Raises:
        UsageError: a name is invalid (the message says what would be valid).
    """
    try:
        if exchange == "backpack":
            from .backpack.protocol import validate_stream

            for stream in streams:
                validate_stream(stream)
        else:
            from .bitfinex.channels import parse_stream

            for stream in _bitfinex_specs(streams)[0]:
                parse_stream(stream)
    except ConfigurationError as exc:
        raise UsageError(exc.message) from None


def _make_client(
    exchange: str,
    streams: Sequence[str],
    *,
    url: str | None,
    rest_url: str | None = None,
    books: bool = False,
    hooks: dict[str, Any] | None = None,
    backoff: Backoff | None = None,
    flags: int | None = None,
) -> BaseClient:
    """A client of ``exchange`` subscribed to ``streams`` (validated now), not started.

    Raises:
        UsageError: a stream is invalid or keys are missing / malformed.
    """
    hooks = dict(hooks or {})
    on_book = hooks.pop("on_book", None)
    try:
        if exchange == "backpack":
            from .backpack.client import DEFAULT_REST_URL, DEFAULT_URL, BackpackClient

            bp = BackpackClient(
                url or DEFAULT_URL,
                rest_url=rest_url or DEFAULT_REST_URL,
                books=books,
                on_book=on_book,
                backoff=backoff,
                **hooks,
            )
            bp.subscribe(*streams)
            return bp
        from .bitfinex.client import BitfinexClient

        channels, auth = _bitfinex_specs(streams)
        extra: dict[str, Any] = {} if flags is None else {"flags": flags}
        bf = BitfinexClient(url, auth=auth, books=books, on_book=on_book, backoff=backoff, **extra, **hooks)
        for spec in channels:
            bf.subscribe(spec)
        return bf
    except ConfigurationError as exc:
        raise UsageError(exc.message) from None


# ============================================================================== stream
def _wait_loop(
    *,
    client: BaseClient,
    output: _Output | None,
    errors: _ErrorPrinter,
    url: str,
    duration: float | None,
    connect_timeout: float,
    stop: threading.Event | None = None,
    stats_every: float | None = None,
    tick: Callable[[], None] | None = None,
) -> None:
    """Wait on the main thread until the run ends: ``output.done`` or ``stop`` set, ``duration``
    elapsed, or the client closed itself.  Flushes output and prints stats meanwhile.

    Raises:
        CommandError: nothing connected within ``connect_timeout`` or the client gave up.
    """
    started = time.monotonic()
    deadline = started + duration if duration is not None else None
    next_stats = started + stats_every if stats_every else None
    done = output.done if output is not None else (stop or threading.Event())
    while not done.wait(0.1):
        if stop is not None and stop.is_set():
            break
        if output is not None:
            output.flush()
        if tick is not None:
            tick()
        now = time.monotonic()
        if client.closed:
            raise CommandError(f"{client.name}: the client stopped (see the error above)")
        if not errors.opened.is_set() and now - started > connect_timeout:
            last = errors.last_transport_error
            why = f": {last}" if last is not None else ""
            raise CommandError(f"could not connect to {url} within {connect_timeout:g}s{why}")
        if next_stats is not None and stats_every and now >= next_stats:
            next_stats = now + stats_every
            errors.print("stats " + json.dumps(stats_dict(client.stats()), separators=(",", ":")))
        if deadline is not None and now >= deadline:
            break
    if output is not None:
        output.flush()


def cmd_stream(args: argparse.Namespace) -> int:
    """``bpbfx stream``: print one line per event until stopped."""
    exchange: str = args.exchange
    output = _Output(sys.stdout, pretty=args.pretty, limit=args.max_events)
    errors = _ErrorPrinter(f"bpbfx stream {exchange}")
    bounded = args.duration is not None or args.max_events is not None
    with contextlib.ExitStack() as stack:
        url, rest_url = args.url, args.rest_url
        _validate_streams(exchange, args.streams)
        sim = None
        if args.sim:
            sim = _start_sim(exchange, args.streams)
            stack.callback(sim.stop)
            url = sim.url
            rest_url = rest_url or getattr(sim, "http_url", None)
        elif url and not rest_url:
            rest_url = _rest_url_for(url)
        hooks: dict[str, Any] = {"on_message": output.event, "on_error": errors, "on_open": errors.on_open}
        if args.book:
            hooks["on_book"] = output.book
        if args.unified:
            hooks["unified"] = True  # on_message gets bpbfx.unified events (books give BookChange)
        client = _make_client(
            exchange,
            args.streams,
            url=url,
            rest_url=rest_url,
            books=args.book or args.unified or exchange == "bitfinex",
            hooks=hooks,
        )
        if sim is not None:
            _admit_keys(sim, client)
        stack.callback(client.close)
        target = url or getattr(client, "url", "")
        try:
            client.start()
            _wait_loop(
                client=client,
                output=output,
                errors=errors,
                url=target,
                duration=args.duration,
                connect_timeout=args.connect_timeout,
                stats_every=args.stats_interval if args.stats else None,
            )
        except (KeyboardInterrupt, _Terminated) as exc:
            status = _interrupted_status(exc, bounded)
        else:
            status = EXIT_OK
        if args.stats:
            errors.print("stats " + json.dumps(stats_dict(client.stats()), separators=(",", ":")))
        output.flush()
    return status


# ============================================================================== record
def cmd_record(args: argparse.Namespace) -> int:
    """``bpbfx record``: write every raw frame (and reconnects) to a recording."""
    from .recording import Recorder

    exchange: str = args.exchange
    errors = _ErrorPrinter(f"bpbfx record {exchange}")
    bounded = args.duration is not None or args.max_frames is not None
    with contextlib.ExitStack() as stack:
        url = args.url
        _validate_streams(exchange, args.streams)
        sim = None
        if args.sim:
            sim = _start_sim(exchange, args.streams)
            stack.callback(sim.stop)
            url = sim.url
        client = _make_client(exchange, args.streams, url=url, hooks={"on_error": errors, "on_open": errors.on_open})
        if sim is not None:
            _admit_keys(sim, client)
        target = url or getattr(client, "url", "")
        meta: dict[str, Any] = {"url": target}
        flags = getattr(client, "flags", None)
        if flags is not None:
            meta["flags"] = flags
        try:
            recorder = Recorder(
                args.output,
                exchange,
                client.subscriptions,  # type: ignore[attr-defined]
                compress=True if args.gzip else None,
                rotate_frames=args.rotate_frames,
                max_frames=args.max_frames,
                meta=meta,
            )
        except OSError as exc:
            raise CommandError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        stack.callback(recorder.close)
        recorder.attach(client)
        stack.callback(client.close)
        try:
            client.start()
            _wait_loop(
                client=client,
                output=None,
                errors=errors,
                url=target,
                duration=args.duration,
                connect_timeout=args.connect_timeout,
                stop=recorder.full,
                tick=recorder.flush,
            )
        except (KeyboardInterrupt, _Terminated) as exc:
            status = _interrupted_status(exc, bounded)
        else:
            status = EXIT_OK
        client.close()
        recorder.close()
        stats = client.stats()
        parts = len(recorder.paths)
        where = str(recorder.paths[0]) + (f" (+{parts - 1} rotated parts)" if parts > 1 else "")
        errors.print(f"recorded {recorder.frames} frames, {stats.reconnects} reconnects, to {where}")
    return status


# ============================================================================== replay
def _detect_exchange(frames: Sequence[str]) -> str | None:
    """Guess the exchange from raw frames: Bitfinex sends arrays and ``{"event":...}``,
    Backpack ``{"stream":..,"data":..}`` and ``{"id":..,"error":..}``."""
    for text in frames[:200]:
        try:
            msg = json.loads(text)
        except ValueError:
            continue
        if isinstance(msg, list):
            return "bitfinex"
        if isinstance(msg, dict):
            if "event" in msg:
                return "bitfinex"
            if "stream" in msg and "data" in msg:
                return "backpack"
            if "error" in msg and "id" in msg:
                return "backpack"
    return None


def _load_any(paths: Sequence[str], exchange: str | None) -> tuple[str, list[Record], dict[str, Any] | None]:
    """Records and exchange of recordings in any format ``bpbfx.sim.replay.load_frames`` reads."""
    from .recording import Record, RecordingError, is_recording, read_recording

    try:
        if all(is_recording(p) for p in paths):
            recording = read_recording(paths)
            found = recording.exchange
            if exchange and found and exchange != found:
                raise UsageError(f"{paths[0]} was recorded from {found}, not {exchange}")
            chosen = exchange or found
            if chosen not in EXCHANGES:
                raise UsageError(f"{paths[0]}: unknown exchange {chosen!r}; pass --exchange backpack|bitfinex")
            if recording.truncated:
                print(f"bpbfx replay: {paths[0]}: the recording ends early (truncated); replaying what it holds",
                      file=sys.stderr)
            header = dict(recording.header) if recording.header is not None else None
            return chosen, list(recording.records), header
    except RecordingError as exc:
        raise CommandError(exc.message) from None
    try:
        from .sim.replay import load_frames
    except ImportError as exc:
        raise CommandError(
            f"reading this file format needs bpbfx.sim.replay ({exc}); pip install 'bpbfx[sim]'"
        ) from None
    frames: list[tuple[float | None, str]] = []
    for p in paths:
        try:
            frames.extend(load_frames(p))
        except (ValueError, KeyError) as exc:
            raise CommandError(f"{p}: not a recording bpbfx can read: {exc}") from None
    chosen = exchange or _detect_exchange([text for _, text in frames])
    if chosen is None:
        raise UsageError(f"cannot tell which exchange {paths[0]} comes from; pass --exchange backpack|bitfinex")
    records = [Record("frame", ts, chosen, 0, text, {}) for ts, text in frames]
    return chosen, records, None


def _announced_channels(records: Sequence[Record]) -> list[str]:
    """Streams announced by the ``subscribed`` frames of a Bitfinex recording without a
    header: the replaying client subscribes them, so it takes those channels (a client only
    accepts the channels it asked for) and keeps and verifies their books."""
    from .bitfinex.channels import from_message

    streams: dict[str, None] = {}
    for record in records:
        text = record.data
        if not text or '"subscribed"' not in text:
            continue
        try:
            msg = json.loads(text)
            sub = from_message(msg)
        except (ValueError, BpbfxError):
            continue
        streams[sub.stream] = None
    return list(streams)


def cmd_replay(args: argparse.Namespace) -> int:
    """``bpbfx replay``: feed a recording through a client's decode path, or serve it."""
    for p in args.files:
        if not os.path.isfile(p):
            raise UsageError(f"no such file: {p}")
    if args.serve:
        return _replay_serve(args)
    from .recording import feed_records

    speed = None if args.as_fast_as_possible else args.speed
    exchange, records, header = _load_any(args.files, args.exchange)
    if args.book and exchange == "backpack":
        raise UsageError("Backpack books are seeded from REST snapshots, which recordings do not hold; drop --book")
    output = _Output(sys.stdout, pretty=args.pretty, limit=args.max_events)
    errors = _ErrorPrinter("bpbfx replay")
    errors.opened.set()
    hooks: dict[str, Any] = {"on_message": output.event, "on_error": errors}
    if args.book:
        hooks["on_book"] = output.book
    streams = [str(s) for s in (header or {}).get("streams") or ()]
    if header is None and exchange == "bitfinex":
        streams = _announced_channels(records)
    flags = (header or {}).get("flags")
    client = _make_client(
        exchange,
        streams,
        url="ws://127.0.0.1:9/replay",  # never connected: the client is fed, not started
        books=exchange == "bitfinex",
        hooks=hooks,
        flags=flags if isinstance(flags, int) else None,
    )
    stop = output.done
    try:
        result = feed_records(client, records, speed=speed, stop=stop)
    except (KeyboardInterrupt, _Terminated) as exc:
        client.close()
        output.flush()
        return _interrupted_status(exc, True)
    stats = client.stats()
    client.close()
    output.flush()
    errors.print(
        f"replayed {result.frames} frames and {result.lifecycle} connection records from {exchange}: "
        f"{output.count} lines, {errors.count} errors, {stats.book_checks} book checks"
    )
    return EXIT_OK


def _replay_serve(args: argparse.Namespace) -> int:
    try:
        from .sim.replay import ReplayServer
    except ImportError as exc:
        if "websockets" in str(exc):
            raise CommandError("serving a replay needs the 'websockets' package: pip install 'bpbfx[sim]'") from None
        raise CommandError(f"bpbfx.sim.replay is not available: {exc}") from None
    speed = None if args.as_fast_as_possible else (args.speed if args.speed is not None else 1.0)
    source: Any = args.files[0]
    if len(args.files) > 1:
        from .sim.replay import load_frames

        source = [frame for p in args.files for frame in load_frames(p)]
    try:
        server = ReplayServer(source, speed=speed, port=args.port)
        server.start()
    except OSError as exc:
        raise CommandError(f"could not serve on port {args.port}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise CommandError(f"{args.files[0]}: {exc}") from None
    try:
        print(f"replay server: {server.url}", flush=True)
        print("Ctrl-C to stop", file=sys.stderr, flush=True)
        while True:
            time.sleep(3600)
    except (KeyboardInterrupt, _Terminated) as exc:
        return _interrupted_status(exc, False)
    finally:
        server.stop()


# ============================================================================== sim
def cmd_sim(args: argparse.Namespace) -> int:
    """``bpbfx sim``: run a simulator until Ctrl-C."""
    sim = _start_sim(args.exchange, port=args.port)
    try:
        rest = getattr(sim, "http_url", None) if args.exchange == "backpack" else None
        print(f"{args.exchange} simulator: {sim.url}" + (f"  REST: {rest}" if rest else ""), flush=True)
        print("Ctrl-C to stop", file=sys.stderr, flush=True)
        while True:
            time.sleep(3600)
    except (KeyboardInterrupt, _Terminated) as exc:
        return _interrupted_status(exc, False)
    finally:
        sim.stop()


# ============================================================================== demo
_CSI = "\x1b["


def _style(on: bool, code: str, text: str) -> str:
    return f"{_CSI}{code}m{text}{_CSI}0m" if on else text


def _fmt(d: Decimal | None, width: int = 0, places: int | None = None) -> str:
    if d is None:
        text = "-"
    elif places is not None:
        text = format(d.quantize(Decimal(1).scaleb(-places)) if places >= 0 else d, "f")
    else:
        text = format(d, "f")
    return text.rjust(width) if width else text


def _places(values: Sequence[Decimal]) -> int:
    """Decimal places to show a column with (the most any value has): REST and WebSocket write
    the same price differently (``86700`` / ``86700.0``)."""
    most = 0
    for v in values:
        exponent = v.as_tuple().exponent
        if isinstance(exponent, int):
            most = max(most, -exponent)
    return most


def _trade_row(event: Event) -> tuple[str, str, Decimal, Decimal] | None:
    """``(symbol, side, price, size)`` of one public trade event, else None."""
    from .backpack.events import Trade as BackpackTrade

    if type(event) is BackpackTrade:
        # Backpack: m = buyer is the maker, so the taker sold.
        side = "sell" if event.buyer_is_maker else ("buy" if event.buyer_is_maker is False else "?")
        return event.symbol or "", side, event.price, event.quantity
    if type(event).__name__ == "TradeUpdate" and getattr(event, "kind", None) == "executed":
        # Bitfinex: `te` and `tu` describe the same trade; count `te`.  AMOUNT < 0 is a sell.
        trade = getattr(event, "trade", None)
        amount = getattr(trade, "amount", None)
        price = getattr(trade, "price", None)
        if isinstance(amount, Decimal) and isinstance(price, Decimal):
            return event.symbol or "", "sell" if amount < 0 else "buy", price, abs(amount)
    return None


class _ExchangePanel:
    """What the demo shows for one exchange; hooks run on the client's threads."""

    def __init__(self, name: str, url: str, notices: _Notices) -> None:
        self.name = name
        self.url = url
        self.notices = notices
        self.client: BaseClient | None = None
        self.trades: deque[tuple[str, str, Decimal, Decimal]] = deque(maxlen=6)
        self.samples: deque[tuple[float, int]] = deque(maxlen=64)
        self.syncs: dict[str, int] = {}
        self.opens = 0
        self.transport_errors = 0
        self.other_errors = 0
        self.last_error = ""
        self.fault_done = False

    # hooks --------------------------------------------------------------------------------
    def on_message(self, client: Any, event: Event) -> None:
        row = _trade_row(event)
        if row is not None:
            self.trades.append(row)
            return
        code = getattr(event, "code", None)
        if type(event).__name__ == "Info" and code is not None:
            what = " (server restarting): the client reconnects" if code == 20051 else ""
            self.notices.add(self.name, f"server sent info {code}{what}")

    def on_error(self, client: Any, exc: BaseException) -> None:
        if isinstance(exc, TransportError):
            self.transport_errors += 1
        else:
            self.other_errors += 1
        self.last_error = _describe(exc)
        self.notices.add(self.name, self.last_error, warn=True)

    def on_open(self, client: Any) -> None:
        self.opens += 1
        self.notices.add(self.name, "connected" if self.opens == 1 else f"reconnected (connection #{self.opens})")

    def on_reconnect(self, client: Any, attempt: int) -> None:
        self.notices.add(self.name, f"reconnect attempt {attempt}")

    def on_book(self, client: Any, update: OrderBookUpdate) -> None:
        if not update.snapshot:
            return
        n = self.syncs.get(update.stream, 0) + 1
        self.syncs[update.stream] = n
        what = "synced" if n == 1 else "resynced"
        self.notices.add(self.name, f"book {update.stream} {what} at update {update.update_id} (valid={update.valid})")

    # figures ------------------------------------------------------------------------------
    def sample(self, now: float) -> ClientStats | None:
        client = self.client
        if client is None:
            return None
        stats = client.stats()
        self.samples.append((now, stats.messages))
        return stats

    def rate(self) -> float:
        """Messages per second over the last second or so."""
        if len(self.samples) < 2:
            return 0.0
        t1, m1 = self.samples[-1]
        t0, m0 = self.samples[0]
        for t, m in self.samples:
            if t1 - t <= 1.05:
                t0, m0 = t, m
                break
        return (m1 - m0) / (t1 - t0) if t1 > t0 else 0.0


class _Notices:
    """Timestamped event lines shown by the demo (thread-safe)."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.items: list[tuple[float, str, str, bool]] = []
        self.printed = 0
        self._lock = threading.Lock()

    def add(self, exchange: str, text: str, warn: bool = False) -> None:
        with self._lock:
            self.items.append((time.monotonic() - self.started, exchange, text, warn))

    def new(self) -> list[tuple[float, str, str, bool]]:
        with self._lock:
            items = self.items[self.printed :]
            self.printed = len(self.items)
        return items

    def recent(self, n: int) -> list[tuple[float, str, str, bool]]:
        with self._lock:
            return self.items[-n:]


class _Demo:
    """Both simulators, both clients, the faults and the view."""

    BACKPACK_STREAMS = ("depth.SOL_USDC", "trade.SOL_USDC", "depth.BTC_USDC", "trade.BTC_USDC")
    BITFINEX_STREAMS = ("trades:tBTCUSD", "book:tBTCUSD:P0:F0:25", "trades:tETHUSD", "book:tETHUSD:P0:F0:25")
    # The cross-exchange line: one market both simulators serve, by unified symbol (Backpack
    # BTC_USDT is added at the Bitfinex simulator's tBTCUST price).
    CROSS_SYMBOL = "BTC/USDT"
    DEMO_KEY, DEMO_SECRET = "demo-key", "demo-secret"  # the simulated Bitfinex trading account

    def __init__(self, duration: float | None, out: IO[str]) -> None:
        self.duration = duration
        self.out = out
        try:
            self.tty = out.isatty()
        except (AttributeError, ValueError):
            self.tty = False
        self.color = self.tty and not os.environ.get("NO_COLOR")
        self.started = time.monotonic()
        self.notices = _Notices(self.started)
        if duration is not None:
            self.fault_times = {"backpack": max(1.5, 0.3 * duration), "bitfinex": max(2.5, 0.5 * duration)}
        else:
            self.fault_times = {"backpack": 6.0, "bitfinex": 10.0}
        self.panels: dict[str, _ExchangePanel] = {}
        self.sims: dict[str, Any] = {}
        from .feed import BestQuotes

        self.cross = BestQuotes(self.CROSS_SYMBOL)

    def setup(self, stack: contextlib.ExitStack) -> None:
        backoff = Backoff(initial=0.3, cap=3.0)
        from .feed import Feed

        for exchange, streams in (("backpack", self.BACKPACK_STREAMS), ("bitfinex", self.BITFINEX_STREAMS)):
            sim = _start_sim(exchange, streams, extra_markets=self._cross_markets(exchange))
            stack.callback(sim.stop)
            self.sims[exchange] = sim
            panel = _ExchangePanel(exchange, sim.url, self.notices)
            self.panels[exchange] = panel
            hooks = {
                "on_message": panel.on_message,
                "on_error": panel.on_error,
                "on_open": panel.on_open,
                "on_reconnect": panel.on_reconnect,
                "on_book": panel.on_book,
            }
            client = _make_client(
                exchange,
                streams,
                url=sim.url,
                rest_url=getattr(sim, "http_url", None),
                books=True,
                hooks=hooks,
                backoff=backoff,
            )
            panel.client = client
            stack.callback(client.close)
        for panel in self.panels.values():
            assert panel.client is not None
            panel.client.start()
        self._start_trading(stack, backoff)
        cross = Feed.quotes(
            self.CROSS_SYMBOL,
            on_quote=self.cross.on_quote,
            on_error=lambda client, exc: None,  # the panels above report the faults
            urls={name: sim.url for name, sim in self.sims.items()},
            rest_url=self.sims["backpack"].http_url,
            backoff=backoff,
        )
        stack.callback(cross.close)
        cross.start()

    def _start_trading(self, stack: contextlib.ExitStack, backoff: Backoff) -> None:
        """A small order round trip on a simulated Bitfinex trading account, shown as events:
        a limit buy far below the market, its confirmation, an update and a cancel."""
        from .bitfinex.client import BitfinexClient

        sim = self.sims["bitfinex"]
        sim.add_account(self.DEMO_KEY, self.DEMO_SECRET, balances={"exchange": {"USD": "100000", "BTC": "1"}})
        trader = BitfinexClient(
            sim.url,
            api_key=self.DEMO_KEY,
            api_secret=self.DEMO_SECRET,
            backoff=backoff,
            on_error=lambda client, exc: None,  # outcomes are shown by the round trip itself
            name="bitfinex-trader",
        )
        stack.callback(trader.close)  # also fails a request still waiting, ending the thread below
        trader.start()
        thread = threading.Thread(target=self._order_round_trip, args=(trader,), name="demo-orders", daemon=True)
        thread.start()
        stack.callback(thread.join, 5.0)

    def _order_round_trip(self, trader: Any) -> None:
        """Runs on its own thread; every step is a line in the demo's events."""
        from .exceptions import OrderError

        say = self.notices.add
        book_client = self.panels["bitfinex"].client
        assert book_client is not None
        deadline = time.monotonic() + 10.0
        bid = None
        while time.monotonic() < deadline and not trader.closed:
            try:
                best = book_client.book("tBTCUSD").best_bid()  # type: ignore[attr-defined]
            except KeyError:
                best = None
            if best is not None and trader.ready:
                bid = best.price
                break
            time.sleep(0.05)
        if bid is None:
            say("bitfinex", "order round trip skipped: no authenticated socket or no bid", warn=True)
            return
        price = (bid / 2).quantize(Decimal(1).scaleb((bid / 2).adjusted() - 4))  # 5 significant digits
        try:
            req = trader.submit_order("tBTCUSD", "0.001", price)
            order = req.result(timeout=10)
            say("bitfinex", f"order: buy 0.001 tBTCUSD @ {price} confirmed, id {order.id} (cid {req.cid})")
            lower = (price * Decimal("0.99")).quantize(Decimal(1).scaleb(price.adjusted() - 4))
            order = trader.update_order(order.id, price=lower).result(timeout=10)
            say("bitfinex", f"order: {order.id} moved to {order.price}")
            order = trader.cancel_order(order.id).result(timeout=10)
            say("bitfinex", f"order: {order.id} cancelled ({order.status}); open orders: {len(trader.orders())}")
        except OrderError as exc:
            if not trader.closed:
                say("bitfinex", f"order round trip failed: {type(exc).__name__}: {exc}", warn=True)

    def _cross_markets(self, exchange: str) -> tuple[Any, ...]:
        if exchange != "backpack":
            return ()
        from .sim.backpack import MarketSpec

        return (MarketSpec("BTC_USDT", Decimal("118950.0"), Decimal("0.1"), Decimal("0.00001"), Decimal("0.3")),)

    def inject_faults(self, elapsed: float) -> None:
        for exchange, at in self.fault_times.items():
            panel = self.panels[exchange]
            if panel.fault_done or elapsed < at:
                continue
            panel.fault_done = True
            sim = self.sims[exchange]
            if exchange == "backpack":
                self.notices.add(exchange, "fault: the simulator drops every connection", warn=True)
                sim.drop_connections()
            else:
                self.notices.add(exchange, "fault: the simulator sends info 20051 (server restarting)", warn=True)
                sim.send_info(20051)

    # rendering -----------------------------------------------------------------------------
    def status_line(self, elapsed: float, stats: dict[str, ClientStats | None]) -> str:
        parts = []
        for name, panel in self.panels.items():
            s = stats[name]
            if s is None:
                continue
            books = panel.client.books if panel.client is not None else {}  # type: ignore[attr-defined]
            valid = sum(1 for b in books.values() if b.valid)
            age = "-" if s.last_message_age is None else f"{s.last_message_age:.2f}s"
            parts.append(
                f"{name} msgs={s.messages} rate={panel.rate():.0f}/s reconnects={s.reconnects} last={age} "
                f"book_checks={s.book_checks} books_valid={valid}/{len(books)} errors={s.errors}"
            )
        return f"[{elapsed:6.1f}s] " + " | ".join(parts) + " | cross " + self.cross.line()

    def screen(self, elapsed: float, stats: dict[str, ClientStats | None]) -> list[str]:
        c = self.color
        width = shutil.get_terminal_size((100, 40)).columns
        left = "" if self.duration is None else f" of {self.duration:g}s"
        lines = [
            _style(c, "1", f"bpbfx demo  {elapsed:5.1f}s{left}")
            + "   both exchanges simulated on 127.0.0.1; Ctrl-C to stop",
            "",
        ]
        for name, panel in self.panels.items():
            s = stats[name]
            if s is None or panel.client is None:
                continue
            age = "-" if s.last_message_age is None else f"{s.last_message_age:.2f}s ago"
            lines.append(
                _style(c, "1;36", f"{name.upper():<9}")
                + f" {panel.url}   msgs {s.messages:>7}  {panel.rate():6.0f}/s   reconnects {s.reconnects}"
                + f"   last msg {age}   book checks {s.book_checks}   resyncs {s.resyncs}   errors {s.errors}"
            )
            books = panel.client.books  # type: ignore[attr-defined]
            for stream, book in books.items():
                snap = book.snapshot(5)
                state = _style(c, "32", "valid  ") if snap.valid else _style(c, "31", "SYNCING")
                bid, ask = snap.best_bid(), snap.best_ask()
                levels = snap.bids + snap.asks
                px = _places([lv.price for lv in levels])
                sz = _places([lv.size for lv in levels])
                spread = snap.spread()
                best_bid = f"{_fmt(bid.price, places=px)} x {_fmt(bid.size, places=sz)}" if bid else "-"
                best_ask = f"{_fmt(ask.price, places=px)} x {_fmt(ask.size, places=sz)}" if ask else "-"
                lines.append(
                    f"  {stream:<24} {state} update {snap.update_id!s:<12} bid {best_bid}   ask {best_ask}"
                    f"   spread {_fmt(spread, places=px)}   syncs {panel.syncs.get(stream, 0)}"
                )
                for i in range(5):
                    b = snap.bids[i] if i < len(snap.bids) else None
                    a = snap.asks[i] if i < len(snap.asks) else None
                    lines.append(
                        f"      {_fmt(b.size if b else None, 14, sz)} {_fmt(b.price if b else None, 12, px)}"
                        f" | {_fmt(a.price if a else None, 12, px)} {_fmt(a.size if a else None, 14, sz)}"
                    )
            trades = list(panel.trades)[::-1]
            row = "  ".join(
                f"{sym} {_style(c, '32' if side == 'buy' else '31', side)} {_fmt(size)}@{_fmt(price)}"
                for sym, side, price, size in trades[:4]
            )
            lines.append(f"  recent trades: {row or '-'}")
            lines.append("")
        lines.append(_style(c, "1", "cross-exchange") + "  " + self.cross.line())
        lines.append("")
        lines.append(_style(c, "1", "events"))
        for t, exchange, text, warn in self.notices.recent(8):
            lines.append(f"  {t:6.1f}s  {exchange:<9} " + (_style(c, "33", text) if warn else text))
        return [_clip(line, width) for line in lines]

    def render(self, final: bool = False) -> None:
        now = time.monotonic()
        elapsed = now - self.started
        stats = {name: panel.sample(now) for name, panel in self.panels.items()}
        if self.tty:
            body = "".join(line + f"{_CSI}K\n" for line in self.screen(elapsed, stats))
            self.out.write(f"{_CSI}H" + body + f"{_CSI}J")
        else:
            for t, exchange, text, _ in self.notices.new():
                self.out.write(f"[{t:6.1f}s] {exchange}: {text}\n")
            self.out.write(self.status_line(elapsed, stats) + "\n")
        self.out.flush()

    def run(self) -> int:
        refresh = 0.25 if self.tty else 1.0
        interrupted: BaseException | None = None
        with contextlib.ExitStack() as stack:
            if self.tty:
                self.out.write(f"{_CSI}2J{_CSI}H{_CSI}?25l")
                stack.callback(lambda: self.out.write(f"{_CSI}?25h"))
            self.setup(stack)
            next_render = time.monotonic() + (0.0 if self.tty else refresh)
            next_sample = time.monotonic()
            try:
                while True:
                    now = time.monotonic()
                    elapsed = now - self.started
                    self.inject_faults(elapsed)
                    if self.duration is not None and elapsed >= self.duration:
                        break
                    if now >= next_render:
                        self.render()
                        next_render = now + refresh
                        next_sample = now + 0.25
                    elif now >= next_sample:
                        for panel in self.panels.values():
                            panel.sample(now)
                        next_sample = now + 0.25
                    time.sleep(0.05)
            except (KeyboardInterrupt, _Terminated) as exc:
                interrupted = exc
            self.render(final=True)
            summary, ok = self.summary()
            if self.tty:
                self.out.write(f"{_CSI}?25h")
            stack.close()
        self.out.write(summary + "\n")
        self.out.flush()
        if interrupted is not None and self.duration is not None:
            return _interrupted_status(interrupted, True)
        return EXIT_OK if ok else EXIT_FAILURE

    def summary(self) -> tuple[str, bool]:
        ok = True
        parts = []
        problems = []
        for name, panel in self.panels.items():
            assert panel.client is not None
            s = panel.client.stats()
            errors = panel.transport_errors + panel.other_errors
            parts.append(
                f"{name} {s.messages} msgs, {s.reconnects} reconnects, {s.book_checks} book checks, "
                f"{errors} errors ({panel.transport_errors} connection)"
            )
            if s.messages == 0:
                ok = False
                problems.append(f"{name} never delivered")
            elif s.last_message_age is not None and s.last_message_age > 5.0:
                ok = False
                problems.append(f"{name} stopped delivering {s.last_message_age:.0f}s ago")
        elapsed = time.monotonic() - self.started
        head = "OK" if ok else "FAILED (" + "; ".join(problems) + ")"
        return f"bpbfx demo: {head} after {elapsed:.1f}s: " + "; ".join(parts), ok


def _clip(line: str, width: int) -> str:
    """Cut a line to ``width`` visible characters (ANSI styles kept intact)."""
    visible = 0
    out = []
    i = 0
    while i < len(line):
        if line.startswith(_CSI, i):
            end = line.find("m", i)
            if end < 0:
                break
            out.append(line[i : end + 1])
            i = end + 1
            continue
        if visible >= width - 1:
            out.append(f"{_CSI}0m")
            break
        out.append(line[i])
        visible += 1
        i += 1
    return "".join(out)


def cmd_demo(args: argparse.Namespace) -> int:
    """``bpbfx demo``: the main job, on simulators, with a visible recovery."""
    if args.duration is not None and args.duration <= 0:
        raise UsageError("--duration must be > 0 seconds")
    return _Demo(args.duration, sys.stdout).run()


# ============================================================================== parser
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0..65535, got {value}")
    return value


def _exchange(text: str) -> str:
    name = text.lower()
    if name not in EXCHANGES:
        raise argparse.ArgumentTypeError(f"unknown exchange {text!r}; choose backpack or bitfinex")
    return name


def _add_source(p: argparse.ArgumentParser) -> None:
    p.add_argument("exchange", type=_exchange, metavar="EXCHANGE", help="backpack or bitfinex")
    p.add_argument(
        "streams",
        nargs="+",
        metavar="STREAM",
        help="Backpack stream names (depth.SOL_USDC, trade.SOL_USDC, account.orderUpdate...) or Bitfinex "
        "stream specs (trades:tBTCUSD, book:tBTCUSD:P0:25, ticker:tETHUSD, candles:trade:1m:tBTCUSD, account)",
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument("--url", help="WebSocket endpoint (default: the real exchange)")
    where.add_argument("--sim", action="store_true", help="start the built-in simulator on 127.0.0.1 and use it")
    p.add_argument("--duration", type=_positive_float, metavar="S", help="stop after S seconds")
    p.add_argument(
        "--connect-timeout", type=_positive_float, default=15.0, metavar="S",
        help="give up when no connection opened within S seconds (default 15)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``bpbfx`` command."""
    parser = _Parser(
        prog="bpbfx",
        description="Backpack Exchange and Bitfinex WebSocket streams: demo, stream, record, replay, simulate.",
        epilog="Keys for private streams come from the environment or a .env file: BACKPACK_PUBLIC_KEY/"
        "BACKPACK_SECRET_KEY, BITFINEX_API_KEY/BITFINEX_API_SECRET.",
    )
    parser.add_argument("--version", action="version", version=f"bpbfx {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("demo", help="both exchanges on local simulators, with a reconnect and resync shown live",
                       description="Start both simulators, stream trades and books from each through the normal "
                       "clients, drop a connection part way through and watch the recovery.")
    p.add_argument("--duration", type=_positive_float, metavar="SECONDS", help="stop after SECONDS (default: Ctrl-C)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("stream", help="print one JSON line per event",
                       description="Print one JSON line per event on stdout (errors on stderr).")
    _add_source(p)
    p.add_argument("--rest-url", help="Backpack REST base for --book snapshots (default: derived)")
    p.add_argument("--pretty", action="store_true", help="human-readable lines instead of JSON")
    p.add_argument("--book", action="store_true", help="also print every managed order book update")
    p.add_argument("--unified", action="store_true",
                   help="print unified events (bpbfx.unified: Trade, Quote, Ticker, Candle, BookChange, ...) "
                   "with ccxt-style symbols instead of native ones")
    p.add_argument("--stats", action="store_true", help="print the client's stats to stderr periodically")
    p.add_argument("--stats-interval", type=_positive_float, default=5.0, metavar="S", help="seconds between stats")
    p.add_argument("--max-events", type=_positive_int, metavar="N", help="stop after N lines")
    p.set_defaults(func=cmd_stream)

    p = sub.add_parser("record", help="write every raw frame with its receive time to a file",
                       description="Record every raw frame received, with receive timestamps and connection "
                       "events, as JSON lines (see bpbfx.recording).")
    _add_source(p)
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="file to write (.gz: compressed)")
    p.add_argument("--gzip", action="store_true", help="compress even without a .gz suffix")
    p.add_argument("--max-frames", type=_positive_int, metavar="N", help="stop after N frames")
    p.add_argument("--rotate-frames", type=_positive_int, metavar="N", help="start a new file every N frames")
    p.set_defaults(func=cmd_record)

    p = sub.add_parser("replay", help="replay a recording through the decode path, or serve it",
                       description="Feed a recording (bpbfx, raw JSON lines or cryptofeed text) through a client's "
                       "decode path and print its events like `stream`, or serve it over WebSocket with --serve.")
    p.add_argument("files", nargs="+", metavar="FILE", help="recording(s); rotated parts in order")
    p.add_argument("--exchange", type=_exchange, help="exchange of a file without a header (default: detected)")
    pace = p.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=_positive_float, metavar="X",
                      help="X times the recorded pace (default: as fast as possible; 1.0 when serving)")
    pace.add_argument("--as-fast-as-possible", action="store_true", help="no pacing")
    p.add_argument("--serve", action="store_true", help="serve the recording on a local WebSocket server")
    p.add_argument("--port", type=_port, default=0, help="port for --serve (default: any free port)")
    p.add_argument("--pretty", action="store_true", help="human-readable lines instead of JSON")
    p.add_argument("--book", action="store_true", help="also print every order book update (Bitfinex)")
    p.add_argument("--max-events", type=_positive_int, metavar="N", help="stop after N lines")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("sim", help="run a simulator on 127.0.0.1 until Ctrl-C",
                       description="Run an exchange simulator standalone and print its URL.")
    p.add_argument("exchange", type=_exchange, metavar="EXCHANGE", help="backpack or bitfinex")
    p.add_argument("--port", type=_port, default=0, help="port (default: any free port)")
    p.set_defaults(func=cmd_sim)

    from .collect import add_parsers as add_collect_parsers

    add_collect_parsers(sub, _positive_int, _positive_float)  # collect, tail (bpbfx.collect)
    sub.add_parser("bench", help="transport benchmark (see python -m bpbfx.bench.throughput --help)", add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``bpbfx`` command with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["bench"]:
        from .bench.throughput import main as bench_main

        try:
            return bench_main(args_list[1:])
        except KeyboardInterrupt:
            return EXIT_INTERRUPTED
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exc:  # --help / --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    if not getattr(args, "func", None):
        print("bpbfx: a command is required: demo, stream, record, replay, sim or bench (see bpbfx --help)",
              file=sys.stderr)
        return EXIT_USAGE
    prog = f"bpbfx {args.command}"
    try:
        with _sigterm_raises():
            status: int = args.func(args)
            return status
    except UsageError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CommandError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except BpbfxError as exc:
        print(f"{prog}: error: {_describe(exc)}", file=sys.stderr)
        return EXIT_FAILURE
    except (KeyboardInterrupt, _Terminated):
        return EXIT_INTERRUPTED
