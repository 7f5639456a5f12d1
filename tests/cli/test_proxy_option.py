"""--proxy on the command line: stream goes through the proxy given, a bad proxy URL is a usage
error that hides its credentials, and collect carries the setting to its workers."""

from __future__ import annotations

import pytest

from bpbfx.cli import main
from bpbfx.collect import CollectConfig, shard
from bpbfx.exceptions import ConfigurationError
from tests.proxies import HttpProxy


def test_stream_through_the_proxy_given(capsys: pytest.CaptureFixture[str]) -> None:
    """bpbfx stream ... --sim --proxy URL connects through that proxy and prints events."""
    with HttpProxy() as proxy:
        status = main(["stream", "bitfinex", "trades:tBTCUSD", "--sim", "--proxy", proxy.url, "--max-events", "2"])
        assert status == 0
        assert proxy.targets and proxy.targets[0].startswith("127.0.0.1:")
    assert len(capsys.readouterr().out.strip().splitlines()) == 2


def test_bad_proxy_is_a_usage_error_without_credentials(capsys: pytest.CaptureFixture[str]) -> None:
    """An unsupported proxy scheme exits 2 with the valid forms and no password."""
    status = main(["stream", "bitfinex", "trades:tBTCUSD", "--sim", "--proxy", "ftp://u:hunter2@127.0.0.1:1"])
    err = capsys.readouterr().err
    assert status == 2 and "socks5://" in err and "hunter2" not in err


def test_collect_passes_the_proxy_to_every_worker() -> None:
    """The collector's proxy setting reaches each worker spec; a bad one is refused up front."""
    config = CollectConfig(bitfinex=("trades:tBTCUSD", "ticker:tBTCUSD"), workers=2, proxy="socks5h://127.0.0.1:1080")
    assert {spec.proxy for spec in shard(config)} == {"socks5h://127.0.0.1:1080"}
    with pytest.raises(ConfigurationError, match="socks5h"):
        CollectConfig(bitfinex=("trades:tBTCUSD",), proxy="gopher://127.0.0.1:70")
