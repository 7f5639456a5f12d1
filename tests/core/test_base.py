"""Client lifecycle without a socket: feed(), feed_lifecycle() and hook error handling."""

from __future__ import annotations

import pytest

from bpbfx import BackpackClient, CallbackError, ClientClosedError, ConfigurationError, ConnectionLostError
from bpbfx.backpack.events import Trade
from tests.support import Recorder

TRADE = (
    '{"stream":"trade.SOL_USDC","data":{"e":"trade","E":1,"s":"SOL_USDC","p":"1.5","q":"2","b":"1","a":"2",'
    '"t":7,"T":1,"m":true}}'
)


def test_feed_lifecycle_drives_the_hooks() -> None:
    """Replayed open/close/reconnect steps call on_open, on_error + on_close and on_reconnect."""
    opens, closes, retries, errors = Recorder(), Recorder(), Recorder(), Recorder()
    client = BackpackClient(
        "ws://127.0.0.1:9", on_open=opens, on_close=closes, on_reconnect=retries, on_error=errors, books=False
    )
    client.feed_lifecycle("open")
    client.feed_lifecycle("close", code=1006, reason="abnormal")
    client.feed_lifecycle("reconnect", attempt=3)
    assert len(opens.items) == 1 and closes.items == [(1006, "abnormal")] and retries.items == [3]
    assert isinstance(errors.items[0], ConnectionLostError) and errors.items[0].close_code == 1006
    with pytest.raises(ConfigurationError, match="'open', 'close' or 'reconnect'"):
        client.feed_lifecycle("explode")
    with pytest.raises(IndexError):
        client.feed_lifecycle("open", connection=5)
    client.close()
    with pytest.raises(ClientClosedError):
        client.feed(TRADE)


def test_error_hook_that_raises_is_contained() -> None:
    """A raising on_error is logged and dropped; delivery of later events continues."""
    events = Recorder()

    def bad_on_message(client: BackpackClient, event: object) -> None:
        events(client, event)
        raise RuntimeError("in on_message")

    def bad_on_error(client: BackpackClient, exc: BaseException) -> None:
        assert isinstance(exc, CallbackError)
        raise RuntimeError("in on_error")

    client = BackpackClient("ws://127.0.0.1:9", on_message=bad_on_message, on_error=bad_on_error, books=False)
    client.feed(TRADE)
    client.feed(TRADE.encode())
    assert [type(e) for e in events.items] == [Trade, Trade]
    assert client.stats().errors == 2


def test_errors_without_hook_go_to_the_log(caplog: pytest.LogCaptureFixture) -> None:
    """With no on_error hook a malformed frame is logged at WARNING on the bpbfx logger."""
    client = BackpackClient("ws://127.0.0.1:9", books=False)
    with caplog.at_level("WARNING", logger="bpbfx"):
        client.feed(b"{nope")
    assert any("not JSON" in r.getMessage() for r in caplog.records)
