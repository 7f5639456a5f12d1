"""Bitfinex v2 authentication (bpbfx.bitfinex.auth): credentials, nonces, the auth frame, redaction."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import pickle
import threading
from pathlib import Path

import pytest

from bpbfx.bitfinex.auth import (
    MAX_NONCE,
    Credentials,
    NonceSource,
    auth_request,
    nonce_source_for,
    redact,
)
from bpbfx.exceptions import ConfigurationError, CredentialsError

KEY = "k3yAbCdEfGhIjKlMnOpQrStUvWxYz0123456789ABCD"
SECRET = "s3cr3tZyXwVuTsRqPoNmLkJiHgFeDcBa9876543210Q"


def test_repr_and_str_hide_the_secret_and_most_of_the_key() -> None:
    """repr/str show no character of the secret or the key, only a fingerprint."""
    creds = Credentials(KEY, SECRET)
    for text in (repr(creds), str(creds), f"{creds}", repr([creds])):
        assert SECRET not in text and KEY not in text
        assert SECRET[:6] not in text
        assert "Credentials(api_key='key#" in text and KEY[:4] not in text and SECRET[:4] not in text
    assert creds.api_key == KEY and creds.api_secret == SECRET


def test_credentials_are_immutable_and_comparable() -> None:
    """Credentials cannot be changed after creation and compare by value."""
    creds = Credentials(KEY, SECRET)
    with pytest.raises(AttributeError):
        creds._api_secret = "x"
    assert creds == Credentials(KEY, SECRET) != Credentials(KEY, SECRET + "x")
    assert pickle.loads(pickle.dumps(creds)) == creds


@pytest.mark.parametrize(
    ("key", "secret", "expected"),
    [
        ("", SECRET, "api_key is empty"),
        (KEY, "", "api_secret is empty"),
        (KEY, SECRET + " ", "api_secret contains whitespace"),
        (KEY, SECRET + "\n", "api_secret contains whitespace"),
        (" " + KEY, SECRET, "api_key contains whitespace"),
        (KEY, SECRET + "é", "api_secret contains non-ASCII"),
        (KEY, SECRET + "\x00", "api_secret contains control characters"),
        (KEY, None, "api_secret must be a string"),
    ],
)
def test_malformed_credentials_raise_without_echoing(key: str, secret: str, expected: str) -> None:
    """Malformed values raise CredentialsError naming the problem but never the secret."""
    with pytest.raises(CredentialsError) as info:
        Credentials(key, secret)
    assert expected in str(info.value)
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)


def test_from_env_reads_the_environment() -> None:
    """from_env takes both values from the environment mapping."""
    creds = Credentials.from_env(dotenv=False, environ={"BITFINEX_API_KEY": KEY, "BITFINEX_API_SECRET": SECRET})
    assert creds == Credentials(KEY, SECRET)


def test_from_env_absent_is_none(tmp_path: Path) -> None:
    """Without variables or a .env file from_env returns None."""
    assert Credentials.from_env(environ={}, dotenv_path=tmp_path / ".env") is None
    assert Credentials.from_env(dotenv=False, environ={}) is None


def test_from_env_reads_dotenv_without_overriding(tmp_path: Path) -> None:
    """A .env file fills in what the environment lacks; the environment wins where both are set."""
    env_file = tmp_path / ".env"
    env_file.write_text(f"BITFINEX_API_KEY=fromfile{KEY}\nBITFINEX_API_SECRET={SECRET}\n", encoding="utf-8")
    environ = {"BITFINEX_API_KEY": KEY}
    creds = Credentials.from_env(environ=environ, dotenv_path=env_file)
    assert creds is not None and creds.api_key == KEY and creds.api_secret == SECRET
    assert environ == {"BITFINEX_API_KEY": KEY}
    only_file = Credentials.from_env(environ={}, dotenv_path=env_file)
    assert only_file is not None and only_file.api_key == f"fromfile{KEY}"


def test_from_env_finds_dotenv_in_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a path, from_env uses the .env of the current directory."""
    (tmp_path / ".env").write_text(f"BITFINEX_API_KEY={KEY}\nBITFINEX_API_SECRET={SECRET}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert Credentials.from_env(environ={}) == Credentials(KEY, SECRET)


def test_from_env_errors_do_not_echo_the_secret(tmp_path: Path) -> None:
    """Half-configured or malformed variables raise CredentialsError naming the variable, not the value."""
    with pytest.raises(CredentialsError) as info:
        Credentials.from_env(dotenv=False, environ={"BITFINEX_API_SECRET": SECRET})
    assert "BITFINEX_API_KEY" in str(info.value) and SECRET not in str(info.value)
    env_file = tmp_path / ".env"
    env_file.write_text(f'BITFINEX_API_KEY={KEY}\nBITFINEX_API_SECRET="{SECRET} x"\n', encoding="utf-8")
    with pytest.raises(CredentialsError) as info:
        Credentials.from_env(environ={}, dotenv_path=env_file)
    text = str(info.value)
    assert "BITFINEX_API_SECRET contains whitespace" in text and ".env file" in text and SECRET not in text


def test_auth_request_signature_matches_independent_hmac() -> None:
    """authSig is the hex HMAC-SHA384 of "AUTH<nonce>" keyed with the secret."""
    nonce = 1_700_000_000_123_456
    request = auth_request(Credentials(KEY, SECRET), nonce)
    payload = "AUTH1700000000123456"
    expected = hmac.new(SECRET.encode(), payload.encode(), hashlib.sha384).hexdigest()
    assert request == {"event": "auth", "apiKey": KEY, "authSig": expected, "authPayload": payload, "authNonce": nonce}
    assert len(request["authSig"]) == 96


def hmac_sha384_by_hand(key: bytes, message: bytes) -> str:
    """HMAC (RFC 2104) over SHA-384 written out with hashlib only, as an independent reference."""
    block = 128  # SHA-384 block size in bytes
    if len(key) > block:
        key = hashlib.sha384(key).digest()
    key = key.ljust(block, b"\x00")
    inner = hashlib.sha384(bytes(b ^ 0x36 for b in key) + message).digest()
    return hashlib.sha384(bytes(b ^ 0x5C for b in key) + inner).hexdigest()


def test_auth_request_signature_matches_rfc2104_by_hand() -> None:
    """The signature equals an HMAC-SHA384 computed from its definition, for several nonces."""
    creds = Credentials(KEY, SECRET)
    for nonce in (1, 1_618_677_543_829_587, MAX_NONCE - 1):
        request = auth_request(creds, nonce)
        assert request["authSig"] == hmac_sha384_by_hand(SECRET.encode(), f"AUTH{nonce}".encode())


def test_auth_request_filter_and_dms() -> None:
    """filter and dms are passed through; bad values raise ConfigurationError."""
    creds = Credentials(KEY, SECRET)
    request = auth_request(creds, 5, filter=("trading", "wallet-exchange-BTC"), dms=4)
    assert request["filter"] == ["trading", "wallet-exchange-BTC"] and request["dms"] == 4
    with pytest.raises(ConfigurationError, match=r"list of strings"):
        auth_request(creds, 5, filter="trading")
    with pytest.raises(ConfigurationError, match=r"valid: trading"):
        auth_request(creds, 5, filter=["trading", ""])
    with pytest.raises(ConfigurationError, match=r"dms must be 4"):
        auth_request(creds, 5, dms=1)
    for bad in (0, -1, MAX_NONCE, True, "5"):
        with pytest.raises(ConfigurationError, match=r"nonce"):
            auth_request(creds, bad)  # type: ignore[arg-type]


def test_redact_removes_signature_and_masks_key() -> None:
    """redact drops authSig and masks apiKey, leaving the other fields."""
    request = auth_request(Credentials(KEY, SECRET), 42, filter=["trading"])
    safe = redact(request)
    assert "authSig" not in safe and safe["apiKey"] != KEY and KEY not in repr(safe)
    assert (safe["authPayload"], safe["authNonce"], safe["filter"]) == ("AUTH42", 42, ["trading"])
    assert "authSig" in request  # the original is untouched


class SteppingClock:
    """A microsecond clock that returns scripted values."""

    def __init__(self, values: list[int]) -> None:
        self.values = values

    def __call__(self) -> int:
        return self.values.pop(0) if len(self.values) > 1 else self.values[0]


def test_nonce_follows_the_clock_and_bumps_when_it_stalls_or_goes_back() -> None:
    """Nonces use the clock when it moves forward and last + 1 when it stalls or goes back."""
    source = NonceSource(clock=SteppingClock([100, 100, 50, 200, 199, 300]))
    assert [source.next() for _ in range(6)] == [100, 101, 102, 200, 201, 300]
    source.advance_past(1_000)
    assert source.next() == 1_001 and source.last == 1_001


def test_nonce_stays_below_two_to_the_53() -> None:
    """A clock at 2**53 raises instead of producing a nonce JSON cannot carry exactly."""
    source = NonceSource(clock=lambda: MAX_NONCE - 1)
    assert source.next() == MAX_NONCE - 1
    with pytest.raises(OverflowError):
        source.next()


def test_default_nonce_is_microseconds_and_increasing() -> None:
    """The default clock gives microsecond nonces (about 1.7e15 today) that keep increasing."""
    source = NonceSource()
    values = [source.next() for _ in range(1000)]
    assert all(b > a for a, b in itertools.pairwise(values))
    assert 10**15 < values[0] < MAX_NONCE


def test_nonces_are_unique_and_ordered_under_threads() -> None:
    """Many threads drawing from one source get distinct nonces, each thread's strictly increasing."""
    source = NonceSource(clock=lambda: 1_000)  # a stuck clock forces the bump path
    per_thread: list[list[int]] = [[] for _ in range(8)]
    start = threading.Barrier(8)

    def draw(out: list[int]) -> None:
        start.wait()
        for _ in range(2_000):
            out.append(source.next())

    threads = [threading.Thread(target=draw, args=(out,)) for out in per_thread]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [n for out in per_thread for n in out]
    assert len(set(everything)) == len(everything) == 16_000
    assert sorted(everything) == list(range(1_000, 17_000))
    assert all(all(b > a for a, b in itertools.pairwise(out)) for out in per_thread)


def test_nonce_source_is_shared_per_key() -> None:
    """nonce_source_for returns one source per API key, the same one on every call."""
    a = nonce_source_for(KEY)
    assert nonce_source_for(KEY) is a
    assert nonce_source_for(KEY + "2") is not a
