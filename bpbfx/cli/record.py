"""``bpbfx record``: every raw frame, with its receive time, and the connection events to a
recording (see :mod:`bpbfx.recording`)."""

from __future__ import annotations

import argparse
import contextlib
from typing import Any

from .errors import EXIT_OK, CommandError, Terminated, interrupted_status
from .printers import ErrorPrinter
from .session import open_source, wait_loop

__all__ = ["cmd_record"]


def cmd_record(args: argparse.Namespace) -> int:
    """``bpbfx record``: write every raw frame (and reconnects) to a recording (main thread).

    Raises:
        UsageError: invalid streams or missing keys.
        CommandError: the file cannot be written, nothing connected, or the client gave up.
    """
    from ..recording import Recorder

    exchange: str = args.exchange
    errors = ErrorPrinter(f"bpbfx record {exchange}")
    bounded = args.duration is not None or args.max_frames is not None
    with contextlib.ExitStack() as stack:
        source = open_source(stack, args, {"on_error": errors, "on_open": errors.on_open}, notes=errors)
        client = source.client
        meta: dict[str, Any] = {"url": source.target}
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
            raise CommandError(f"cannot write {args.output} (-o/--output): {exc.strerror or exc}") from None
        stack.callback(recorder.close)
        stack.callback(client.close)  # on the way out the client stops before its recorder
        recorder.attach(client)
        try:
            client.start()
            wait_loop(
                client=client,
                output=None,
                errors=errors,
                url=source.target,
                duration=args.duration,
                connect_timeout=args.connect_timeout,
                stop=recorder.full,
                tick=recorder.flush,
            )
        except (KeyboardInterrupt, Terminated) as exc:
            status = interrupted_status(exc, bounded)
        else:
            status = EXIT_OK
        client.close()
        recorder.close()
        stats = client.stats()
        parts = len(recorder.paths)
        where = str(recorder.paths[0]) + (f" (+{parts - 1} rotated parts)" if parts > 1 else "")
        errors.print(f"recorded {recorder.frames} frames, {stats.reconnects} reconnects, to {where}")
    return status
