"""The client factory shared by the command, the collector and Feed: validation, which client it
builds, keys, and simulators that admit generated test accounts."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest

from bpbfx import BackpackClient, BitfinexClient, ConfigurationError, CredentialsError, Feed
from bpbfx.backpack.auth import Signer
from bpbfx.exceptions import InvalidStreamError
from bpbfx.factory import (
    TEST_BALANCES,
    ApiKeys,
    check_exchange,
    generate_test_keys,
    keys_from_env,
    make_client,
    private_streams,
    resolve_keys,
    split_bitfinex,
    start_simulator,
    validate_streams,
)
from tests.support import Recorder

KEY_VARS = ("BACKPACK_PUBLIC_KEY", "BACKPACK_SECRET_KEY", "PUBLIC_KEY", "SECRET_KEY", "BITFINEX_API_KEY",
            "BITFINEX_API_SECRET")


@pytest.fixture(autouse=True)
def no_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No exchange keys in the environment and no .env file above the working directory."""
    for name in KEY_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


# ---------------------------------------------------------------------------------------- validation
def test_check_exchange_names_the_valid_ones() -> None:
    """Exchange names are case-insensitive; an unknown one is refused with both valid names."""
    assert check_exchange("Bitfinex") == "bitfinex"
    with pytest.raises(ConfigurationError, match="unknown exchange 'kraken'; choose backpack or bitfinex"):
        check_exchange("kraken")


def test_validate_streams_refuses_bad_names_and_accepts_bitfinex_account() -> None:
    """Stream names are checked before anything starts; Bitfinex 'account' is a stream of its own."""
    validate_streams("backpack", ["depth.SOL_USDC", "account.orderUpdate"])
    validate_streams("bitfinex", ["book:tBTCUSD:P0:F0:25", "account", "auth"])
    with pytest.raises(InvalidStreamError, match=r"did you mean trade\.SOL_USDC"):
        validate_streams("backpack", ["Trade.SOL_USDC"])
    with pytest.raises(InvalidStreamError, match="unknown channel 'trade'"):
        validate_streams("bitfinex", ["trade:tBTCUSD"])


def test_private_streams_and_bitfinex_split() -> None:
    """Backpack account.* and Bitfinex account/auth are the private streams."""
    assert private_streams("backpack", ["trade.SOL_USDC", "account.orderUpdate.SOL_USDC"]) == [
        "account.orderUpdate.SOL_USDC"
    ]
    assert private_streams("bitfinex", ["trades:tBTCUSD", "account"]) == ["account"]
    assert split_bitfinex(["trades:tBTCUSD", "auth"]) == (["trades:tBTCUSD"], True)
    assert split_bitfinex(["trades:tBTCUSD"]) == (["trades:tBTCUSD"], False)


# ---------------------------------------------------------------------------------------- which client
def test_make_client_builds_a_subscribed_backpack_client() -> None:
    """Backpack streams give a BackpackClient subscribed to them, at the URLs given, not started."""
    client = make_client("backpack", ["depth.SOL_USDC", "trade.SOL_USDC"], url="ws://127.0.0.1:9",
                         rest_url="http://127.0.0.1:9", books=False, name="x")
    try:
        assert isinstance(client, BackpackClient)
        assert client.subscriptions == ("depth.SOL_USDC", "trade.SOL_USDC")
        assert client.url == "ws://127.0.0.1:9" and client.rest_url == "http://127.0.0.1:9"
        assert client.books_enabled is False and client.name == "x" and not client.ready
    finally:
        client.close()


def test_make_client_turns_the_trade_backfill_on() -> None:
    """backfill_trades=True reaches the Backpack and the Bitfinex client (both take backfill
    records); without it neither does."""
    client = make_client("backpack", ["trade.SOL_USDC"], url="ws://127.0.0.1:9", backfill_trades=True)
    try:
        assert isinstance(client, BackpackClient)
        assert client.feed_backfill("trade.SOL_USDC", "[]") and client.stats().trades_backfilled == 0
    finally:
        client.close()
    plain = make_client("backpack", ["trade.SOL_USDC"], url="ws://127.0.0.1:9")
    try:
        assert isinstance(plain, BackpackClient) and not plain.feed_backfill("trade.SOL_USDC", "[]")
    finally:
        plain.close()
    bf = make_client("bitfinex", ["trades:tBTCUSD"], url="ws://127.0.0.1:9", backfill_trades=True)
    try:
        assert isinstance(bf, BitfinexClient)
        assert bf.feed_backfill("trades:tBTCUSD", "[]") and bf.stats().trades_backfilled == 0
    finally:
        bf.close()
    bf_plain = make_client("bitfinex", ["trades:tBTCUSD"], url="ws://127.0.0.1:9")
    try:
        assert isinstance(bf_plain, BitfinexClient) and not bf_plain.feed_backfill("trades:tBTCUSD", "[]")
    finally:
        bf_plain.close()
    with pytest.raises(ConfigurationError, match="backfill_trades"):
        make_client("bitfinex", ["trades:tBTCUSD"], url="ws://127.0.0.1:9", backfill_trades="yes")  # type: ignore[arg-type]


def test_make_client_bitfinex_market_data_never_picks_up_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bitfinex market data does not authenticate even with keys in the environment."""
    monkeypatch.setenv("BITFINEX_API_KEY", "envkey")
    monkeypatch.setenv("BITFINEX_API_SECRET", "envsecret")
    client = make_client("bitfinex", ["trades:tBTCUSD"], url="ws://127.0.0.1:9")
    try:
        assert isinstance(client, BitfinexClient)
        assert client.subscriptions == ("trades:tBTCUSD",) and client.credentials is None
    finally:
        client.close()


def test_make_client_bitfinex_account_authenticates_with_the_keys_given() -> None:
    """'account' turns authentication on, with the keys given; auth=False with it is refused."""
    keys = ApiKeys("k1", "s1")
    client = make_client("bitfinex", ["trades:tBTCUSD", "account"], url="ws://127.0.0.1:9", keys=keys)
    try:
        assert client.credentials is not None and client.credentials.api_key == "k1"  # type: ignore[attr-defined]
        assert client.subscriptions == ("trades:tBTCUSD",)  # type: ignore[attr-defined]
    finally:
        client.close()
    with pytest.raises(ConfigurationError, match="'account' stream needs authentication"):
        make_client("bitfinex", ["account"], url="ws://127.0.0.1:9", keys=keys, auth=False)


def test_make_client_private_streams_without_keys_raise_credentials_error() -> None:
    """A private stream with no keys anywhere raises CredentialsError at once, on both exchanges."""
    with pytest.raises(CredentialsError):
        make_client("bitfinex", ["account"], url="ws://127.0.0.1:9")
    with pytest.raises(CredentialsError):
        make_client("backpack", ["account.orderUpdate"], url="ws://127.0.0.1:9")


def test_feed_builds_its_clients_with_the_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    """Feed's clients come from the factory: validated streams, no keys picked up, options passed."""
    monkeypatch.setenv("BITFINEX_API_KEY", "envkey")
    monkeypatch.setenv("BITFINEX_API_SECRET", "envsecret")
    feed = Feed(["bitfinex:trades:tBTCUSD", "backpack:depth.SOL_USDC"], urls={"bitfinex": "ws://127.0.0.1:9"},
                client_options={"backpack": {"books": False}})
    try:
        bitfinex = feed.client("bitfinex")
        assert isinstance(bitfinex, BitfinexClient) and bitfinex.credentials is None
        assert isinstance(feed.client("backpack"), BackpackClient)
        assert feed.client("backpack").books_enabled is False  # type: ignore[attr-defined]
    finally:
        feed.close()
    with pytest.raises(InvalidStreamError):
        Feed(["backpack:Trade.SOL_USDC"])


# ---------------------------------------------------------------------------------------- keys
def test_keys_from_env_reads_each_exchange_and_names_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys come from the exchange's variables; ``source`` names them; half a pair is refused."""
    assert keys_from_env("bitfinex") is None and keys_from_env("backpack") is None
    monkeypatch.setenv("BITFINEX_API_KEY", "abc")
    with pytest.raises(CredentialsError, match="BITFINEX_API_KEY is set but BITFINEX_API_SECRET is not"):
        keys_from_env("bitfinex")
    monkeypatch.setenv("BITFINEX_API_SECRET", "def")
    assert keys_from_env("bitfinex") == ApiKeys("abc", "def", source="BITFINEX_API_KEY/BITFINEX_API_SECRET")
    seed = base64.b64encode(bytes(32)).decode()
    monkeypatch.setenv("SECRET_KEY", seed)
    keys = keys_from_env("backpack")
    assert keys is not None and keys.api_secret == seed and keys.source == "PUBLIC_KEY/SECRET_KEY"
    assert "def" not in repr(ApiKeys("abc", "def"))


def test_generated_test_keys_are_fresh_and_valid() -> None:
    """Generated Backpack keys are a matching ED25519 pair; Bitfinex keys are fresh each time."""
    bp = generate_test_keys("backpack")
    assert bp.generated and Signer(bp.api_secret, bp.api_key).verifying_key == bp.api_key
    first, second = generate_test_keys("bitfinex"), generate_test_keys("bitfinex")
    assert first.generated and first.api_key != second.api_key and first.api_secret != second.api_secret


def test_resolve_keys_prefers_the_environment_then_a_simulator_account(monkeypatch: pytest.MonkeyPatch) -> None:
    """No keys for public streams; environment keys first; generated ones only on a simulator."""
    assert resolve_keys("bitfinex", ["trades:tBTCUSD"], sim=True) is None
    assert resolve_keys("bitfinex", ["account"]) is None
    generated = resolve_keys("bitfinex", ["account"], sim=True)
    assert generated is not None and generated.generated
    monkeypatch.setenv("BITFINEX_API_KEY", "abc")
    monkeypatch.setenv("BITFINEX_API_SECRET", "def")
    found = resolve_keys("bitfinex", ["account"], sim=True)
    assert found is not None and found.api_key == "abc" and not found.generated


# ---------------------------------------------------------------------------------------- loopback
def test_bitfinex_simulator_admits_generated_keys_as_a_test_account(recorder: Callable[[], Recorder]) -> None:
    """start_simulator admits generated keys with a funded test account; the client authenticates."""
    pytest.importorskip("websockets")
    keys = generate_test_keys("bitfinex")
    sim = start_simulator("bitfinex", keys=keys)
    events = recorder()
    try:
        client = make_client("bitfinex", ["account"], url=sim.url, keys=keys, on_message=events)
        with client:
            assert client.wait_ready(10)
            assert events.wait_for(lambda items: any(type(e).__name__ == "WalletsSnapshot" for e in items))
        wallets = next(e for e in events.items if type(e).__name__ == "WalletsSnapshot").wallets
        held = {(w.wallet_type, w.currency): str(w.balance) for w in wallets}
        assert held == {("exchange", c): v for c, v in TEST_BALANCES["exchange"].items()}
    finally:
        sim.stop()


def test_backpack_simulator_serves_every_symbol_named_and_verifies_generated_keys(
    recorder: Callable[[], Recorder],
) -> None:
    """A Backpack simulator started for a stream serves its symbol; a generated key signs account streams."""
    pytest.importorskip("websockets")
    keys = generate_test_keys("backpack")
    sim = start_simulator("backpack", ["trade.DOGE_USDC"], keys=keys)
    events = recorder()
    try:
        client = make_client("backpack", ["trade.DOGE_USDC", "account.orderUpdate"], url=sim.url,
                             rest_url=sim.http_url, keys=keys, on_message=events)
        with client:
            assert events.wait_for(lambda items: any(e.symbol == "DOGE_USDC" for e in items))
            assert client.wait_ready(10)
        assert sim.signatures_verified >= 1 and sim.signatures_rejected == 0
    finally:
        sim.stop()
