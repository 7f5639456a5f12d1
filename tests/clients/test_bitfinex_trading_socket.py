"""BitfinexClient with keys keeps the account (channel 0) on a trading socket of its own: faults of
public channels never replace or re-authenticate it, and its own faults leave the public sockets
alone.  Loopback against the Bitfinex simulator."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from bpbfx import (
    BitfinexClient,
    ChecksumMismatchError,
    ConnectionLostError,
    SequenceGapError,
    StreamSilentError,
)
from bpbfx.bitfinex.protocol import OB_CHECKSUM, SEQ_ALL
from bpbfx.sim.bitfinex import DEFAULT_MARKETS, BitfinexSimulator
from tests.support import FAST, Recorder

KEY, SECRET = "socket-key-0123456789", "socket-secret-abcdefgh"
BALANCES = {"exchange": {"USD": "100000", "BTC": "1"}}
MARKETS = [m for m in DEFAULT_MARKETS if m.symbol in ("tBTCUSD", "tETHUSD")]
WAIT = 10.0


@pytest.fixture
def sim(bitfinex_sim: Callable[..., BitfinexSimulator]) -> BitfinexSimulator:
    return bitfinex_sim(
        seed=3,
        tick_interval=0.01,
        hb_interval=0.2,
        time_scale=0.01,
        markets=MARKETS,
        accounts={KEY: SECRET},
        account_balances={KEY: BALANCES},
    )


class Setup:
    """A started client with keys and a managed book, and the simulator's ids of its sockets."""

    def __init__(self, sim: BitfinexSimulator, **kwargs: Any) -> None:
        self.sim = sim
        self.events, self.errors = Recorder(), Recorder()
        self.client = BitfinexClient(
            sim.url,
            api_key=KEY,
            api_secret=SECRET,
            backoff=FAST,
            heartbeat_timeout=1.0,
            flags=SEQ_ALL | OB_CHECKSUM,
            on_message=self.events,
            on_error=self.errors,
            **kwargs,
        )
        self.client.subscribe("book", symbol="tBTCUSD")
        self.client.start()
        assert self.client.wait_ready(WAIT), self.client.readiness()
        [self.trading] = sim.connections_of(KEY)
        [self.public] = self.public_ids()

    def public_ids(self) -> list[int]:
        return [cid for cid, chans in self.sim.subscriptions().items() if chans]

    def book_valid(self) -> bool:
        return self.client.book("tBTCUSD").valid

    def place(self) -> Any:
        """A buy far below the market, confirmed by its reply."""
        bid = Decimal(self.sim.book("tBTCUSD").bids[0][0])
        req = self.client.submit_order("tBTCUSD", "0.01", str(int(bid / 2) // 10 * 10))
        order = req.result(WAIT)
        assert self.sim.order_inputs(req.cid, api_key=KEY) == 1
        return order


@pytest.fixture
def setup(sim: BitfinexSimulator) -> Any:
    s = Setup(sim)
    yield s
    s.client.close()


def test_the_account_has_a_socket_of_its_own(sim: BitfinexSimulator, setup: Setup) -> None:
    """Channel 0 lives on socket 0, which holds no public channel; the book is on socket 1; both count."""
    client = setup.client
    assert client.stats().connections == 2 and sim.connection_count == 2
    assert setup.trading != setup.public
    assert sim.subscriptions(setup.trading) == {setup.trading: {}}
    assert sim.authenticated(setup.public) is None
    assert {r["channel"] for r in sim.subscriptions(setup.public)[setup.public].values()} == {"book"}


PUBLIC_FAULTS: dict[str, tuple[Callable[[BitfinexSimulator, int], Any], type[Exception]]] = {
    "sequence gap": (lambda sim, conn: sim.skip_sequence(conn_id=conn), SequenceGapError),
    "checksum": (lambda sim, conn: sim.corrupt_checksum("tBTCUSD", conn_id=conn), ChecksumMismatchError),
    "dropped update": (lambda sim, conn: sim.drop_update("tBTCUSD", conn_id=conn), ChecksumMismatchError),
    "silent channel": (
        lambda sim, conn: sim.silence_channel(channel="book", symbol="tBTCUSD", conn_id=conn),
        StreamSilentError,
    ),
}


@pytest.mark.parametrize("fault", sorted(PUBLIC_FAULTS))
def test_public_faults_never_touch_the_trading_socket(sim: BitfinexSimulator, setup: Setup, fault: str) -> None:
    """A public gap, checksum resync or silent channel resyncs the public socket; the trading socket
    is neither replaced nor re-authenticated, and an order placed afterwards goes through on it."""
    arm, error = PUBLIC_FAULTS[fault]
    resyncs = setup.client.stats().resyncs
    arm(sim, setup.public)
    assert setup.errors.wait_count(1, WAIT, error)
    assert sim.wait_for(lambda: setup.client.stats().resyncs > resyncs, WAIT)
    assert setup.client.wait_ready(WAIT) and sim.wait_for(setup.book_valid, WAIT)
    if fault == "sequence gap":
        assert setup.public_ids() != [setup.public]  # the public socket was replaced
    order = setup.place()
    assert order.status == "ACTIVE"
    assert sim.connections_of(KEY) == [setup.trading] and sim.auth_count(KEY) == 1
    assert sim.authenticated(setup.trading) == KEY
    assert not setup.errors.of(ConnectionLostError) or fault == "sequence gap"


TRADING_FAULTS: dict[str, Callable[[Setup], Any]] = {
    "dropped": lambda s: s.sim.drop_account_sockets(KEY),
    "auth sequence gap": lambda s: (s.sim.skip_sequence(conn_id=s.trading, auth=True), s.place()),
}


@pytest.mark.parametrize("fault", sorted(TRADING_FAULTS))
def test_trading_socket_faults_reauthenticate_it_and_leave_public_sockets_alone(
    sim: BitfinexSimulator, setup: Setup, fault: str
) -> None:
    """The trading socket dropping (or losing account frames) is replaced and authenticated again;
    the public socket keeps its connection, its channel and its valid book."""
    subscribed = sim.counters()["subscribed"]
    resyncs = setup.client.stats().resyncs
    TRADING_FAULTS[fault](setup)
    assert sim.wait_for(lambda: sim.auth_count(KEY) == 2 and len(sim.connections_of(KEY)) == 1, WAIT)
    assert setup.client.wait_ready(WAIT)
    assert sim.connections_of(KEY) != [setup.trading]
    assert setup.public_ids() == [setup.public] and sim.counters()["subscribed"] == subscribed
    assert setup.book_valid() and setup.client.stats().resyncs == resyncs
    assert setup.place().status == "ACTIVE"


def test_public_channels_go_to_the_public_endpoint_by_default() -> None:
    """Without a url, the trading socket uses api.bitfinex.com and public sockets api-pub, with
    Bitfinex's own connect limits; without keys, socket 0 is public as before."""
    client = BitfinexClient(api_key=KEY, api_secret=SECRET)
    try:
        client.subscribe("ticker", symbol="tBTCUSD")
        conns = client._connections
        assert [c.url for c in conns] == ["wss://api.bitfinex.com/ws/2", "wss://api-pub.bitfinex.com/ws/2"]
        assert client.rest_url == "https://api.bitfinex.com"
        assert (client._trading_limiter.limit, client._trading_limiter.period) == (5, 15.0)
        assert (client._limiter.limit, client._limiter.period) == (20, 60.0)
    finally:
        client.close()
    public = BitfinexClient(auth=False)
    try:
        public.subscribe("ticker", symbol="tBTCUSD")
        assert [c.url for c in public._connections] == ["wss://api-pub.bitfinex.com/ws/2"]
    finally:
        public.close()


def test_a_recording_made_with_keys_replays_into_a_client_without_them(sim: BitfinexSimulator, tmp_path: Any) -> None:
    """With keys the public channels were on socket 1: a keyless replay of that recording still
    decodes them (feed() opens the socket and takes the channels it subscribed) and its book."""
    from bpbfx.bitfinex.events import BookUpdate, TradeUpdate
    from bpbfx.recording import Recorder as FileRecorder
    from bpbfx.recording import feed_records, read_recording

    path = tmp_path / "keyed.jsonl"
    live = Recorder()
    with FileRecorder(path, "bitfinex", ["trades:tBTCUSD", "book:tBTCUSD:P0:F0:25", "account"]) as rec:
        client = BitfinexClient(sim.url, api_key=KEY, api_secret=SECRET, backoff=FAST, on_message=live)
        client.subscribe("trades", symbol="tBTCUSD")
        client.subscribe("book", symbol="tBTCUSD")
        rec.attach(client)
        with client:
            assert client.wait_ready(WAIT)
            assert live.wait_count(5, WAIT, TradeUpdate) and live.wait_count(5, WAIT, BookUpdate)
    recorded = [e for e in live.items if isinstance(e, (TradeUpdate, BookUpdate))]
    replayed = Recorder()
    errors = Recorder()
    replay = BitfinexClient("ws://127.0.0.1:9/replay", auth=False, on_message=replayed, on_error=errors)
    replay.subscribe("trades", symbol="tBTCUSD")
    replay.subscribe("book", symbol="tBTCUSD")
    records = read_recording(path).records
    result = feed_records(replay, records)
    assert result.frames == sum(1 for r in records if r.kind == "frame") > 0  # every frame played
    assert [e for e in replayed.items if isinstance(e, (TradeUpdate, BookUpdate))] == recorded
    assert replay.book("tBTCUSD").valid and not [e for e in errors.items if "answers no request" in str(e)]
    replay.close()
