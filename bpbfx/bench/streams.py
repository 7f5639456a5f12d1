"""What the benchmark server writes: pre-encoded Backpack and Bitfinex streams.

Each ``write_*`` function writes one stream into ``conn`` (anything with ``sendall``; the Bitfinex
ones also read the client's ``conf`` and ``subscribe`` from ``rfile``).  :mod:`bpbfx.bench.blaster`
calls them on sockets; :mod:`bpbfx.bench.decoders` calls them on an in-memory socket to decode
the very frames the throughput matrix sends.

- Backpack ``trade.<s>`` frames (recorded field set and value styles), 1,024 distinct frames
  cycled, at full speed or at a fixed rate with the sender's monotonic clock in ``E``;
- Backpack ``depth.<s>`` deltas with L levels per side (absolute quantities, consecutive
  ``U``/``u``) and the REST snapshot (``GET /api/v1/depth``) that the first delta continues;
- Bitfinex ``[CHAN,"te",[ID,MTS,AMOUNT,PRICE],SEQ]`` (SEQ when SEQ_ALL was asked for) after
  ``info``/``conf``/``subscribed`` and a trades snapshot;
- Bitfinex P0 book: a snapshot of 25+25 levels, then update frames of E entries (E > 1 with
  BULK_UPDATES: one batch frame) each followed by its ``[CHAN,"cs",CRC]``, the checksums
  computed here by an independent dict model.
"""

from __future__ import annotations

import json
import time
import zlib
from typing import Any

from .harness import read_client_frame, send_all, ws_frame

__all__ = [
    "CHAN",
    "FIRST_ID",
    "SYMBOL",
    "backpack_trade",
    "bitfinex_book_cycle",
    "depth_levels",
    "depth_rest",
    "depth_symbol",
    "write_bitfinex_book",
    "write_bitfinex_trades",
    "write_depth",
    "write_trades",
    "write_trades_at_rate",
]

SYMBOL = "SOL_USDC"
"""The Backpack symbol of the trade streams."""

CHAN = 17
"""The Bitfinex channel id the server assigns."""

FIRST_ID = 1_000_000
"""The update id of the first Backpack depth delta (the REST snapshot's is one less)."""

_SEQ_ALL = 65536
_BULK_UPDATES = 536870912
_INFO = b'{"event":"info","version":2,"serverId":"bench","platform":{"status":1}}'


# ================================================================================ Backpack
def backpack_trade(i: int, event_us: int) -> bytes:
    """A Backpack ``trade`` frame's text (field set and value styles as the exchange writes them)."""
    price = 150 + (i % 200 - 100) / 100
    qty = 0.01 + (i * 7 % 500) / 100
    data = {
        "e": "trade",
        "E": event_us,
        "s": SYMBOL,
        "p": f"{price:.2f}",
        "q": f"{qty:.2f}",
        "b": str(114318470581796864 + 2 * i),
        "a": str(114318470582386688 + 2 * i + 1),
        "t": 300_000_000 + i,
        "T": event_us - 213,
        "m": i % 3 == 0,
    }
    return json.dumps({"stream": f"trade.{SYMBOL}", "data": data}, separators=(",", ":")).encode()


def write_trades(conn: Any, n: int) -> None:
    """``n`` trade frames as fast as the socket takes them (1,024 distinct frames cycled)."""
    now_us = time.time_ns() // 1000
    cycle = b"".join(ws_frame(backpack_trade(i, now_us + i)) for i in range(1024))
    full, rest = divmod(n, 1024)
    for _ in range(full):
        conn.sendall(cycle)
    if rest:
        conn.sendall(b"".join(ws_frame(backpack_trade(i, now_us + i)) for i in range(rest)))


def write_trades_at_rate(conn: Any, n: int, rate: float) -> None:
    """``n`` trade frames, one write each, ``rate`` per second; each frame's ``E`` is
    ``time.monotonic_ns() // 1000`` just before it is written."""
    interval = 1e9 / rate
    clock = time.monotonic_ns
    due = float(clock())
    for i in range(n):
        now = clock()
        if now < due:
            time.sleep((due - now) / 1e9)
        conn.sendall(ws_frame(backpack_trade(i, clock() // 1000)))
        due += interval


def depth_symbol(levels: int) -> str:
    """The symbol of a depth stream with ``levels`` levels per side (``L50_USDC``)."""
    return f"L{levels}_USDC"


def depth_levels(levels: int, k: int) -> tuple[str, str]:
    """JSON texts of the bid and ask arrays of delta ``k`` (absolute quantities; every 7th level
    of every 5th delta is deleted with ``"0.00"`` and comes back in the next)."""
    bids, asks = [], []
    for i in range(levels):
        qty = "0.00" if (k % 5 == 0 and i % 7 == 3) else f"{1 + (i * 31 + k * 17) % 997 / 100:.2f}"
        bids.append(f'["{1000 - 1 - i}.{i % 10}","{qty}"]')
        asks.append(f'["{1000 + 1 + i}.{i % 10}","{qty}"]')
    return "[" + ",".join(bids) + "]", "[" + ",".join(asks) + "]"


def depth_rest(levels: int) -> bytes:
    """The REST snapshot (``GET /api/v1/depth``) that the first delta continues."""
    bids = [[f"{1000 - 1 - i}.{i % 10}", "5.00"] for i in range(levels)][::-1]  # REST bids ascending
    asks = [[f"{1000 + 1 + i}.{i % 10}", "5.00"] for i in range(levels)]
    return json.dumps(
        {"asks": asks, "bids": bids, "lastUpdateId": str(FIRST_ID - 1), "timestamp": time.time_ns() // 1000}
    ).encode()


def write_depth(conn: Any, n: int, levels: int) -> None:
    """``n`` depth deltas of ``levels`` levels per side (a cycle of 20), pre-encoded."""
    symbol = depth_symbol(levels)
    cycle = [depth_levels(levels, k) for k in range(20)]
    now_us = time.time_ns() // 1000
    head = f'{{"stream":"depth.{symbol}","data":{{"e":"depth","E":{now_us},"s":"{symbol}","a":'
    frames = []
    for k in range(n):
        b, a = cycle[k % 20]
        uid = FIRST_ID + k
        frames.append(ws_frame(f'{head}{a},"b":{b},"U":{uid},"u":{uid},"T":{now_us}}}}}'.encode()))
    send_all(conn, frames)


# ================================================================================ Bitfinex
def _handshake(conn: Any, rfile: Any, channel: str) -> tuple[bool, int]:
    """info, conf, subscribe -> subscribed; returns (SEQ_ALL requested, flags)."""
    conn.sendall(ws_frame(_INFO))
    flags = 0
    while True:
        frame = read_client_frame(rfile)
        if frame is None or frame[0] == 0x8:
            raise OSError("client left before subscribing")
        try:
            msg = json.loads(frame[1])
        except ValueError:
            continue
        if msg.get("event") == "conf":
            flags = int(msg.get("flags") or 0)
            conn.sendall(ws_frame(json.dumps({"event": "conf", "status": "OK", "flags": flags}).encode()))
        elif msg.get("event") == "subscribe":
            reply = {"event": "subscribed", "channel": channel, "chanId": CHAN, "symbol": msg.get("symbol", "tBTCUSD")}
            if channel == "book":
                reply.update(prec=msg.get("prec", "P0"), freq=msg.get("freq", "F0"), len=str(msg.get("len", "25")))
            reply["pair"] = "BTCUSD"
            if "subId" in msg:
                reply["subId"] = msg["subId"]
            conn.sendall(ws_frame(json.dumps(reply).encode()))
            return bool(flags & _SEQ_ALL), flags


def write_bitfinex_trades(conn: Any, rfile: Any, n: int) -> None:
    """The handshake, a trades snapshot of 30, then ``n`` ``te`` frames, pre-encoded."""
    seq_all, _ = _handshake(conn, rfile, "trades")
    mts = time.time_ns() // 1_000_000
    seq = 1
    snapshot = ",".join(f"[{1795583200 + k},{mts},0.001,118910]" for k in range(30))
    conn.sendall(ws_frame(f"[{CHAN},[{snapshot}]{f',{seq}' if seq_all else ''}]".encode()))
    frames = []
    for i in range(n):
        seq += 1
        amount = "0.00431" if i % 3 else "-0.0125"
        tail = f",{seq}]" if seq_all else "]"
        text = f'[{CHAN},"te",[{1795583300 + i},{mts + i // 50},{amount},{118900 + i % 40}]{tail}'
        frames.append(ws_frame(text.encode()))
    send_all(conn, frames)


def bitfinex_book_cycle(entries: int, rounds: int = 20) -> tuple[str, list[tuple[str, int]]]:
    """Snapshot text and a cycle of (update entries text, checksum after it).  Step ``k`` sets
    ``entries`` of the 50 levels (``entries`` divides 50) to the amounts of version
    ``(round + 1) % rounds``; the last step of the cycle restores the snapshot amounts, so the
    cycle can be replayed forever with valid checksums."""
    prices = [f"{118900 - 1 - i}" for i in range(25)] + [f"{118900 + 1 + i}" for i in range(25)]

    def amount(level: int, version: int) -> str:
        text = f"{0.1 + ((level * 13 + version * 7) % 50) / 1000:.4f}".rstrip("0")
        return text if level < 25 else "-" + text  # Bitfinex: AMOUNT < 0 is an ask

    state = {level: amount(level, 0) for level in range(50)}
    snapshot = ",".join(f"[{prices[lv]},{1 + lv % 3},{state[lv]}]" for lv in range(50))
    steps = []
    for k in range(rounds * 50 // entries):
        version = ((k * entries) // 50 + 1) % rounds
        touched = [(k * entries + j) % 50 for j in range(entries)]
        for lv in touched:
            state[lv] = amount(lv, version)
        text = ",".join(f"[{prices[lv]},{1 + lv % 3},{state[lv]}]" for lv in touched)
        # Bitfinex checksum: bid0.price:bid0.amount:ask0.price:ask0.amount:... over the top 25
        # (bids price descending, asks ascending), CRC32 as a signed 32-bit int.
        bids = [f"{prices[lv]}:{state[lv]}" for lv in range(25)]
        asks = [f"{prices[lv]}:{state[lv]}" for lv in range(25, 50)]
        parts = [x for pair in zip(bids, asks, strict=True) for x in pair]
        crc = zlib.crc32(":".join(parts).encode())
        steps.append((text, crc - (1 << 32) if crc >= 1 << 31 else crc))
    return snapshot, steps


def write_bitfinex_book(conn: Any, rfile: Any, n: int, entries: int) -> None:
    """The handshake, a 25+25 snapshot, then ``n`` update frames of ``entries`` entries each
    followed by its ``cs`` frame, pre-encoded."""
    seq_all, flags = _handshake(conn, rfile, "book")
    bulk = bool(flags & _BULK_UPDATES)
    snapshot, steps = bitfinex_book_cycle(entries)
    seq = 1
    conn.sendall(ws_frame(f"[{CHAN},[{snapshot}]{f',{seq}' if seq_all else ''}]".encode()))
    frames = []
    for k in range(n):
        text, crc = steps[k % len(steps)]
        seq += 1
        tail = f",{seq}]" if seq_all else "]"
        body = f"[{CHAN},[{text}]{tail}" if entries > 1 and bulk else f"[{CHAN},{text}{tail}"
        seq += 1
        tail_cs = f",{seq}]" if seq_all else "]"
        frames.append(ws_frame(body.encode()))
        frames.append(ws_frame(f'[{CHAN},"cs",{crc}{tail_cs}'.encode()))
    send_all(conn, frames)
