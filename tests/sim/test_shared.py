"""The machinery both exchange simulators share: option checks, cadences, stepping, the
per-client outbox and the controls of the common server, driven with websocket-client."""

from __future__ import annotations

import gc
import json
import logging
import socket
import sys
import threading
from typing import Any

import pytest
import websocket

from bpbfx.sim import BackpackSimulator, BitfinexSimulator, ReplayServer
from bpbfx.sim._exchange import Cadences
from bpbfx.sim._server import SimServer
from bpbfx.sim.bitfinex import DEFAULT_MARKETS

Simulator = BackpackSimulator | BitfinexSimulator
SIMULATORS = [BackpackSimulator, BitfinexSimulator]


def subscribe(sim: Simulator, ws: websocket.WebSocket) -> None:
    """Subscribe ``ws`` to busy book streams and read what the subscription answers."""
    if isinstance(sim, BackpackSimulator):
        ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["depth.SOL_USDC", "depth.BTC_USDC"]}))
        assert sim.wait_for(lambda: sim.subscriber_count("depth.BTC_USDC") == 1)  # no reply on Backpack
        return
    assert json.loads(ws.recv())["event"] == "info"
    ws.send(json.dumps({"event": "subscribe", "channel": "book", "symbol": "tBTCUSD", "prec": "R0"}))
    assert json.loads(ws.recv())["event"] == "subscribed"
    assert isinstance(json.loads(ws.recv())[1], list)  # the snapshot


def queue_text(sim: Simulator, text: str) -> None:
    """Queue ``text`` to every client, in order with the data."""
    if isinstance(sim, BackpackSimulator):
        sim.send_malformed(text=text)
    else:
        sim.send_raw(text)


@pytest.mark.parametrize("cls", SIMULATORS)
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tick_interval": 0}, "tick_interval"),
        ({"time_scale": 0}, "time_scale"),
        ({"max_queued_frames": 0}, "max_queued_frames"),
        ({"markets": []}, "markets must not be empty"),
    ],
)
def test_common_options_are_checked(cls: type[SimServer], options: dict[str, Any], message: str) -> None:
    """Both simulators refuse a bad tick interval, time scale, queue limit or an empty market list."""
    with pytest.raises(ValueError, match=message):
        cls(**options)


def test_markets_listed_twice_are_refused() -> None:
    """A market listed twice raises ValueError naming the list, on both simulators."""
    with pytest.raises(ValueError, match="listed twice in \\['SOL_USDC', 'SOL_USDC'\\]"):
        BackpackSimulator(markets=["SOL_USDC", "SOL_USDC"])
    with pytest.raises(ValueError, match="listed twice in \\['tBTCUSD', 'tBTCUSD'\\]"):
        BitfinexSimulator(markets=[DEFAULT_MARKETS[0]] * 2)


def test_cadences_count_periods_in_ticks() -> None:
    """A cadence lasts period * time_scale / tick seconds, at least one tick; unknown names raise."""
    cadences = Cadences({"ticker": 1.0, "fast": 0.001}, tick_interval=0.1)
    assert cadences.ticks("ticker", 1.0) == 10
    assert cadences.ticks("ticker", 0.5) == 5
    assert cadences.ticks("fast", 1.0) == 1
    assert Cadences({"ticker": 1.0}, tick_interval=None).ticks("ticker", 1.0) == 20  # 50 ms nominal
    with pytest.raises(ValueError, match="known: \\['fast', 'ticker'\\]"):
        cadences.ticks("status", 1.0)


@pytest.mark.parametrize("cls", SIMULATORS)
def test_cadence_ticks_follow_time_scale(cls: type[Simulator]) -> None:
    """cadence_ticks reads the simulator's time_scale: a "second" at 0.1 lasts two 50 ms ticks."""
    sim = cls(time_scale=0.1)
    assert sim.cadence_ticks("ticker") == 2
    with pytest.raises(ValueError, match="unknown cadence"):
        sim.cadence_ticks("nope")


@pytest.mark.parametrize("cls", SIMULATORS)
def test_step_needs_a_running_simulator_and_a_positive_count(cls: type[SimServer]) -> None:
    """step() raises ValueError for fewer than one tick and RuntimeError before start()."""
    sim = cls(tick_interval=None)
    with pytest.raises(ValueError):
        sim.step(0)
    with pytest.raises(RuntimeError):
        sim.step()


@pytest.mark.parametrize("factory_name", ["backpack_sim", "bitfinex_sim"])
def test_a_client_that_stops_reading_is_closed_with_1008(factory_name: str, request: pytest.FixtureRequest) -> None:
    """A client max_queued_frames behind is closed with 1008 "slow consumer" and counted once."""
    sim: Simulator = request.getfixturevalue(factory_name)(tick_interval=None, max_queued_frames=5, seed=3)
    ws = websocket.create_connection(sim.url, timeout=5)
    subscribe(sim, ws)
    sim.step(30)  # the ticks run back to back on the loop: the writer cannot drain meanwhile
    frames = 0
    while (received := ws.recv_data(control_frame=True))[0] != websocket.ABNF.OPCODE_CLOSE:
        frames += 1
    data = received[1]
    assert int.from_bytes(data[:2], "big") == 1008 and data[2:] == b"slow consumer"
    assert frames <= 5
    assert sim.wait_for(lambda: sim.connection_count == 0)
    assert sim.counters()["slow_consumers"] == 1
    ws.close()


@pytest.mark.parametrize("factory_name", ["backpack_sim", "bitfinex_sim"])
def test_frames_made_while_the_server_is_silent_are_lost(factory_name: str, request: pytest.FixtureRequest) -> None:
    """set_silent() writes nothing while on: the ticks' frames are lost, the next one arrives."""
    sim: Simulator = request.getfixturevalue(factory_name)(tick_interval=None, seed=3)
    ws = websocket.create_connection(sim.url, timeout=5)
    subscribe(sim, ws)
    sim.set_silent(True)
    assert sim.silent
    sim.step(5)
    assert sim.wait_for(lambda: sim.queued_frames() == 0)  # each dropped as its turn came
    sim.set_silent(False)
    queue_text(sim, '"after the silence"')
    assert ws.recv() == '"after the silence"'
    ws.close()


def test_replay_server_shares_the_connection_controls() -> None:
    """ReplayServer has the shared silence_connection (ValueError for an unknown id) and step."""
    with ReplayServer(['{"n":1}', '{"n":2}'], start_on="first_message") as replay:
        ws = websocket.create_connection(replay.url, timeout=5)
        assert replay.wait_for_connections(1)
        with pytest.raises(ValueError, match="no connection 99"):
            replay.silence_connection(99)
        replay.step(2)  # no market: the ticks do nothing
        conn_id = max(replay.connections)
        replay.silence_connection(conn_id)
        ws.send("go")
        assert replay.wait_done()
        replay.silence_connection(conn_id, False)
        assert replay.frames_sent_to(conn_id) == 2
        replay.inject('"after the silence"')
        assert ws.recv() == '"after the silence"'  # both frames came while silenced: lost
        ws.close()


_HANDSHAKE = (
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def _hammer(port: int, done: threading.Event) -> None:
    """Connect, complete a handshake and hang up, again and again until ``done``."""
    while not done.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(_HANDSHAKE)
                s.recv(100)  # the 101 (or the refusal of a closing server)
        except OSError:
            pass


def test_stop_leaves_no_task_pending_when_handshakes_arrive_meanwhile(monkeypatch: pytest.MonkeyPatch) -> None:
    """stop() while clients keep connecting ends every task: none is destroyed pending later."""
    unraisable: list[Any] = []
    logged: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            logged.append(record.getMessage())

    handler = Catch(logging.ERROR)
    logging.getLogger("asyncio").addHandler(handler)
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    try:
        for _ in range(4):
            sim = BackpackSimulator(tick_interval=None).start()
            done = threading.Event()
            threads = [threading.Thread(target=_hammer, args=(sim.port, done)) for _ in range(4)]
            for t in threads:
                t.start()
            assert sim.wait_for(lambda sim=sim: sim.total_connections >= 20)
            sim.stop()
            done.set()
            for t in threads:
                t.join()
            del sim
            gc.collect()  # a task left pending would be destroyed here, and say so
    finally:
        logging.getLogger("asyncio").removeHandler(handler)
    assert unraisable == []
    assert [m for m in logged if "pending" in m] == []


def test_rest_server_keeps_connections_alive_and_records_requests() -> None:
    """The simulators' REST port speaks HTTP/1.1 keep-alive: several GETs over one connection,
    every request recorded whole; a method a simulator does not take is a 405."""
    import http.client

    from bpbfx.sim import BackpackSimulator

    with BackpackSimulator(tick_interval=None) as sim:
        conn = http.client.HTTPConnection("127.0.0.1", sim.http_port, timeout=5)
        for _ in range(3):
            conn.request("GET", "/api/v1/time")
            response = conn.getresponse()
            assert response.status == 200 and int(response.read()) > 0
        conn.request("PUT", "/api/v1/time", body=b"{}")
        response = conn.getresponse()
        assert response.status == 405
        response.read()
        conn.close()
        assert [r.method for r in sim.rest_requests] == ["GET", "GET", "GET", "PUT"]
