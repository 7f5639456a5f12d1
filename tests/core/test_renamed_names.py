"""Names of earlier releases keep working for a release, with a DeprecationWarning that names
the new one."""

from __future__ import annotations

import pytest

import bpbfx
from bpbfx import book


@pytest.mark.parametrize(
    ("old", "new"),
    [("BookSnapshot", book.FrozenBook), ("BookChange", book.LevelChange), ("Side", book.BookSide)],
)
def test_old_book_names_still_import_with_a_warning(old: str, new: type) -> None:
    with pytest.warns(DeprecationWarning, match=f"bpbfx.book.{old} is now bpbfx.book.{new.__name__}"):
        assert getattr(book, old) is new


def test_old_top_level_name_still_imports_with_a_warning() -> None:
    with pytest.warns(DeprecationWarning, match="bpbfx.BookSnapshot is now bpbfx.FrozenBook"):
        from bpbfx import BookSnapshot  # noqa: F401
    with pytest.raises(AttributeError, match="no attribute 'Nonexistent'"):
        bpbfx.Nonexistent  # noqa: B018


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        book.Nonexistent  # noqa: B018


def test_old_unified_side_still_imports_with_a_warning() -> None:
    import bpbfx.unified
    import bpbfx.unified.events

    for module in (bpbfx.unified, bpbfx.unified.events):
        with pytest.warns(DeprecationWarning, match=r"\.Side is now .*\.TradeSide"):
            assert module.Side is module.TradeSide


def test_bitfinex_socket_count_is_connection_count() -> None:
    from bpbfx import BitfinexClient

    client = BitfinexClient("ws://127.0.0.1:9", auth=False)  # never started: nothing connects
    with pytest.warns(DeprecationWarning, match="socket_count is now connection_count"):
        assert client.socket_count == client.connection_count
    client.close()
