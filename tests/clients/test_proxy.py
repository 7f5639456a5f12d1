"""Both clients through real HTTP and SOCKS5 proxies on 127.0.0.1: WebSocket and REST, managed
books, the environment's proxy variables and no_proxy, refusing and unreachable proxies,
close() during a proxy handshake, and credentials that never show."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterator

import pytest

from bpbfx import (
    BackpackClient,
    BitfinexClient,
    ConfigurationError,
    Proxy,
    ProxyAuthenticationError,
    ProxyError,
)
from bpbfx.proxy import proxy_for
from bpbfx.sim.backpack import BackpackSimulator
from bpbfx.sim.bitfinex import BitfinexSimulator
from tests.proxies import HttpProxy, Socks5Proxy, env
from tests.support import FAST, Recorder

SECRET = "pa55-w0rd-xyz"


@pytest.fixture
def http_proxy() -> Iterator[HttpProxy]:
    with HttpProxy() as proxy:
        yield proxy


@pytest.fixture
def socks_proxy() -> Iterator[Socks5Proxy]:
    with Socks5Proxy() as proxy:
        yield proxy


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


def backpack(sim: BackpackSimulator, **options: object) -> BackpackClient:
    return BackpackClient(
        sim.url,
        rest_url=sim.http_url,
        streams=["depth.SOL_USDC", "trade.SOL_USDC"],
        backoff=FAST,
        **options,  # type: ignore[arg-type]
    )


def bitfinex(sim: BitfinexSimulator, **options: object) -> BitfinexClient:
    client = BitfinexClient(sim.url, auth=False, backoff=FAST, **options)  # type: ignore[arg-type]
    client.subscribe("book", symbol="tBTCUSD")
    return client


@pytest.mark.parametrize("kind", ["http", "socks5", "socks5h"])
def test_backpack_book_through_a_proxy(
    kind: str, http_proxy: HttpProxy, socks_proxy: Socks5Proxy, backpack_sim: Callable[..., BackpackSimulator]
) -> None:
    """WebSocket and the REST depth snapshot both go through the proxy; the book is valid."""
    sim = backpack_sim(tick_interval=0.01, time_scale=0.01)
    proxy = http_proxy if kind == "http" else socks_proxy
    url = proxy.url if kind == "http" else proxy.url.replace("socks5", kind)
    with backpack(sim, proxy=url) as client:
        assert client.wait_ready(10), client.readiness()
        assert client.book("SOL_USDC").valid and client.book("SOL_USDC").best_bid() is not None
    ws_port, rest_port = _port(sim.url), _port(sim.http_url)
    targets = proxy.targets
    assert any(t.endswith(f":{ws_port}") for t in targets)  # the WebSocket tunnel
    if kind == "http":
        # Plain http:// REST goes to an HTTP proxy in absolute form.
        assert any(t.startswith(f"http://127.0.0.1:{rest_port}/api/v1/depth") for t in targets)
    else:
        assert any(t.endswith(f":{rest_port}") for t in targets)


@pytest.mark.parametrize("kind", ["http", "socks5h"])
def test_bitfinex_book_through_a_proxy(
    kind: str, http_proxy: HttpProxy, socks_proxy: Socks5Proxy, bitfinex_sim: Callable[..., BitfinexSimulator]
) -> None:
    """Bitfinex channels and a checksum-verified book through an HTTP or SOCKS5 proxy."""
    sim = bitfinex_sim(tick_interval=0.01)
    proxy = http_proxy if kind == "http" else socks_proxy
    url = proxy.url if kind == "http" else proxy.url.replace("socks5", kind)
    with bitfinex(sim, proxy=url) as client:
        assert client.wait_ready(10), client.readiness()
        assert client.book("tBTCUSD").valid
    assert proxy.targets == [f"127.0.0.1:{_port(sim.url)}"]


def test_bitfinex_authenticates_through_a_socks_proxy_with_credentials(
    bitfinex_sim: Callable[..., BitfinexSimulator],
) -> None:
    """Channel 0 authenticates through a SOCKS5 proxy that wants a username and password."""
    sim = bitfinex_sim(tick_interval=0.01, accounts={"key-1": "secret-1"})
    with Socks5Proxy(credentials=("alice", SECRET)) as proxy:
        client = BitfinexClient(sim.url, api_key="key-1", api_secret="secret-1", backoff=FAST,
                                proxy=proxy.url_with("alice", SECRET, "socks5h"))
        with client:
            assert client.wait_ready(10), client.readiness()
        assert proxy.auth_seen == [f"alice:{SECRET}"]


def test_environment_variables_and_no_proxy(
    http_proxy: HttpProxy, backpack_sim: Callable[..., BackpackSimulator]
) -> None:
    """With no proxy= option the environment applies (http_proxy for ws:// and http://);
    no_proxy exempts a host; proxy=False ignores the environment."""
    sim = backpack_sim(tick_interval=0.01, time_scale=0.01)
    with env(http_proxy=http_proxy.url, no_proxy="example.invalid"):
        with backpack(sim) as client:
            assert client.wait_ready(10)
        assert http_proxy.wait_targets(2)
        seen = len(http_proxy.targets)
        with backpack(sim, proxy=False) as client:
            assert client.wait_ready(10)
        assert len(http_proxy.targets) == seen
    with env(http_proxy=http_proxy.url, no_proxy="127.0.0.1,localhost"), backpack(sim) as client:
        assert client.wait_ready(10)
    assert len(http_proxy.targets) == seen
    # Without any no_proxy, loopback is reached directly (as websocket-client does).
    with env(http_proxy=http_proxy.url):
        assert proxy_for(None, sim.url) is None
        assert proxy_for(None, "ws://ws.example:80") == Proxy.parse(http_proxy.url)


def test_https_proxy_variable_for_wss_and_all_proxy() -> None:
    """wss:// and https:// take https_proxy; all_proxy covers what has no variable of its own."""
    with env(https_proxy="http://10.0.0.1:3128", http_proxy="http://10.0.0.2:3128", no_proxy="x.invalid"):
        assert proxy_for(None, "wss://ws.backpack.exchange").host == "10.0.0.1"  # type: ignore[union-attr]
        assert proxy_for(None, "https://api.backpack.exchange").host == "10.0.0.1"  # type: ignore[union-attr]
        assert proxy_for(None, "ws://127.0.0.1:9").host == "10.0.0.2"  # type: ignore[union-attr]
        assert proxy_for(False, "wss://ws.backpack.exchange") is None
    with env(all_proxy="socks5h://10.0.0.3:1080", no_proxy="x.invalid"):
        assert proxy_for(None, "wss://api.bitfinex.com/ws/2") == Proxy("socks5h", "10.0.0.3", 1080)


@pytest.mark.parametrize("refuse", [407, 403])
def test_refusing_http_proxy_is_reported_by_name_then_retried(
    refuse: int, backpack_sim: Callable[..., BackpackSimulator]
) -> None:
    """A proxy answering 407 or 403 is reported as ProxyError naming the proxy (never its
    credentials), and the client keeps retrying with its backoff."""
    sim = backpack_sim(tick_interval=0.01, time_scale=0.01)
    with HttpProxy(refuse=refuse) as proxy:
        errors = Recorder()
        client = backpack(sim, proxy=proxy.url_with("bob", SECRET), on_error=errors)
        with client:
            assert errors.wait_count(2, 10, ProxyError)
        err = errors.of(ProxyError)[0]
        assert err.status == refuse and f"127.0.0.1:{proxy.port}" in str(err) and err.proxy.startswith("http://***@")
        assert (refuse == 407) == isinstance(err, ProxyAuthenticationError)
        for e in errors.items:
            assert SECRET not in str(e) and SECRET not in repr(e) and "bob" not in str(e)


def test_proxy_wanting_credentials_says_how_to_give_them(backpack_sim: Callable[..., BackpackSimulator]) -> None:
    """407 without credentials: the error says to put them in the proxy URL."""
    sim = backpack_sim(tick_interval=None)
    with HttpProxy(credentials=("carol", SECRET)) as proxy:
        errors = Recorder()
        with backpack(sim, proxy=proxy.url, on_error=errors):
            assert errors.wait_count(1, 10, ProxyAuthenticationError)
        assert "user:pass@" in str(errors.of(ProxyAuthenticationError)[0])


def test_refusing_socks_proxy_and_bad_socks_credentials(backpack_sim: Callable[..., BackpackSimulator]) -> None:
    """A SOCKS5 refusal (reply 2) and refused SOCKS credentials are ProxyErrors naming the proxy."""
    sim = backpack_sim(tick_interval=None)
    with Socks5Proxy(refuse=2) as proxy:
        errors = Recorder()
        with backpack(sim, proxy=proxy.url, on_error=errors):
            assert errors.wait_count(1, 10, ProxyError)
        assert f"127.0.0.1:{proxy.port}" in str(errors.of(ProxyError)[0])
    with Socks5Proxy(credentials=("dave", "right")) as proxy:
        errors = Recorder()
        with backpack(sim, proxy=proxy.url_with("dave", SECRET), on_error=errors):
            assert errors.wait_count(1, 10, ProxyAuthenticationError)
        assert all(SECRET not in str(e) for e in errors.items)


def test_unreachable_proxy_is_a_proxy_error(backpack_sim: Callable[..., BackpackSimulator]) -> None:
    """Nothing listens on the proxy's port: a ProxyError saying it could not be reached."""
    sim = backpack_sim(tick_interval=None)
    with socket.create_server(("127.0.0.1", 0)) as spare:
        port = spare.getsockname()[1]
    errors = Recorder()
    with backpack(sim, proxy=f"http://127.0.0.1:{port}", on_error=errors):
        assert errors.wait_count(1, 10, ProxyError)
    assert "could not reach proxy" in str(errors.of(ProxyError)[0])


@pytest.mark.parametrize("kind", ["http", "socks5"])
def test_close_is_prompt_during_a_proxy_handshake(kind: str, backpack_sim: Callable[..., BackpackSimulator]) -> None:
    """A proxy that never answers the handshake does not hold close() up."""
    sim = backpack_sim(tick_interval=None)
    server = HttpProxy(hold=True) if kind == "http" else Socks5Proxy(hold=True)
    with server:
        client = BackpackClient(sim.url, rest_url=sim.http_url, streams=["trade.SOL_USDC"], proxy=server.url,
                                connect_timeout=30)
        client.start()
        assert server.wait_targets(1)  # the handshake has begun and will never be answered
        started = time.monotonic()
        client.close()
        assert time.monotonic() - started < 1.0


def test_proxy_credentials_never_logged_or_shown(
    http_proxy: HttpProxy, backpack_sim: Callable[..., BackpackSimulator], caplog: pytest.LogCaptureFixture
) -> None:
    """Neither a client, its proxy, nor a log line at any level shows the proxy password."""
    sim = backpack_sim(tick_interval=0.01, time_scale=0.01)
    caplog.set_level(logging.DEBUG)
    proxy = Proxy.parse(http_proxy.url_with("eve", SECRET))
    assert SECRET not in repr(proxy) and SECRET not in str(proxy) and "eve" not in proxy.safe_url
    with backpack(sim, proxy=proxy) as client:
        assert client.wait_ready(10)
        assert SECRET not in repr(client)
    assert all(SECRET not in r.getMessage() for r in caplog.records)
    with pytest.raises(ConfigurationError) as info:
        Proxy.parse(f"ftp://eve:{SECRET}@127.0.0.1:1")
    assert SECRET not in str(info.value)
