"""serve_metrics over real HTTP: clients on the simulators, scraped with urllib and parsed with
prometheus_client's parser."""

from __future__ import annotations

import socket
import urllib.error
from collections.abc import Callable

import pytest
from prometheus_client import CollectorRegistry, Counter

from bpbfx import BackpackClient, BitfinexClient
from bpbfx.metrics import serve_metrics
from bpbfx.sim.backpack import BackpackSimulator
from bpbfx.sim.bitfinex import BitfinexSimulator
from tests.support import FAST, Recorder, Scrape


def test_backpack_counters_grow_between_scrapes_and_a_gap_is_an_integrity_resync(
        backpack_sim: Callable[..., BackpackSimulator]) -> None:
    """Events, frames and bytes grow between two scrapes; an injected sequence gap shows as an
    integrity resync and as its error class."""
    sim = backpack_sim(tick_interval=0.01, time_scale=0.01)
    events, errors = Recorder(), Recorder()
    client = BackpackClient(sim.url, rest_url=sim.http_url, streams=["depth.SOL_USDC", "trade.SOL_USDC"],
                            backoff=FAST, on_message=events, on_error=errors, name="bp")
    with client, serve_metrics(0, clients=[client]) as server:
        assert client.wait_ready(10)
        first = Scrape(server.url)
        seen = len(events.items)
        assert events.wait_count(seen + 20)
        second = Scrape(server.url)
        for name, labels in [("bpbfx_events_total", {"stream": "depth.SOL_USDC", "kind": "depth"}),
                             ("bpbfx_messages_total", {}), ("bpbfx_received_bytes_total", {})]:
            before, after = first.value(name, client="bp", **labels), second.value(name, client="bp", **labels)
            assert before is not None and after is not None and after > before, name
        assert second.families["bpbfx_events"].type == "counter"
        assert second.value("bpbfx_connected_sockets", client="bp", exchange="backpack") == 1
        assert second.value("bpbfx_books", client="bp") == 1 and second.value("bpbfx_books_valid", client="bp") == 1
        assert second.value("bpbfx_book_resyncs_total", client="bp") == 0
        assert second.value("process_resident_memory_bytes") is not None  # the server's own registry adds them

        sim.inject_gap("SOL_USDC")
        assert errors.wait_count(1)
        assert client.wait_ready(10)
        third = Scrape(server.url)
    assert third.value("bpbfx_book_resyncs_total", client="bp", reason="integrity") == 1
    assert third.value("bpbfx_book_resyncs_total", client="bp", reason="connection_lost") == 0
    kinds = [type(e).__name__ for e in errors.items]
    for kind in kinds:
        assert third.value("bpbfx_errors_total", client="bp", error=kind) == kinds.count(kind)


def test_bitfinex_dropped_socket_counts_a_connection_lost_resync_per_book(
        bitfinex_sim: Callable[..., BitfinexSimulator]) -> None:
    """A dropped socket: one connection_lost resync per book, a reconnect, and the loss in errors_total."""
    sim = bitfinex_sim(tick_interval=0.01)
    opens, errors = Recorder(), Recorder()
    client = BitfinexClient(sim.url, auth=False, backoff=FAST, on_open=opens, on_error=errors, name="bf")
    client.subscribe("book", symbol="tBTCUSD")
    client.subscribe("book", symbol="tETHUSD")
    with client, serve_metrics(0, clients=[client]) as server:
        assert client.wait_ready(10)
        before = Scrape(server.url)
        sim.drop_connections()
        assert opens.wait_count(2)
        assert client.wait_ready(10)
        after = Scrape(server.url)
    assert before.value("bpbfx_reconnects_total", client="bf") == 0
    assert after.value("bpbfx_reconnects_total", client="bf") == client.stats().reconnects >= 1
    assert after.value("bpbfx_book_resyncs_total", client="bf", reason="connection_lost") == 2
    assert after.value("bpbfx_book_resyncs_total", client="bf", reason="integrity") == 0
    assert after.value("bpbfx_books_valid", client="bf") == 2
    kinds = [type(e).__name__ for e in errors.items]
    assert "ConnectionLostError" in kinds
    assert after.value("bpbfx_errors_total", client="bf", error="ConnectionLostError") == kinds.count(
        "ConnectionLostError")


def test_a_given_registry_serves_its_own_metrics_too_and_close_releases_everything(
        backpack_sim: Callable[..., BackpackSimulator]) -> None:
    """On the caller's registry the user's metrics are served beside bpbfx's; close() unregisters
    the collector, frees the port and may be called twice."""
    sim = backpack_sim()
    registry = CollectorRegistry()
    mine = Counter("my_orders", "orders placed", registry=registry)
    mine.inc(3)
    client = BackpackClient(sim.url, rest_url=sim.http_url, streams=["trade.SOL_USDC"], name="bp")
    with client:
        server = serve_metrics(0, clients=[client], registry=registry)
        assert server.url == f"http://127.0.0.1:{server.port}/metrics" and server.port > 0
        scrape = Scrape(server.url)
        assert scrape.value("my_orders_total") == 3
        assert scrape.value("bpbfx_sockets", client="bp") == 1
        assert scrape.value("process_resident_memory_bytes") is None  # only what the registry holds
        server.collector.remove(client)
        assert Scrape(server.url).value("bpbfx_sockets") is None
        server.close()
        server.close()
    assert [m.name for m in registry.collect()] == ["my_orders"]
    with pytest.raises(urllib.error.URLError):
        Scrape(server.url)


def test_a_port_in_use_raises_oserror() -> None:
    """serve_metrics on a port something else listens on raises OSError at once."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        with pytest.raises(OSError):
            serve_metrics(taken.getsockname()[1])
