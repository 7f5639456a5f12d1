"""Bitfinex authentication: the ``auth`` / ``unauth`` events, nonces, and the channel
filters an authenticated socket chose.

``{"event":"auth","apiKey":K,"authSig":S,"authPayload":P,"authNonce":N,"filter":[...],
"dms":4}`` with ``authSig`` the hex HMAC-SHA384 of ``P`` keyed with the account's secret;
``P`` starts with ``AUTH`` and the nonce ``N`` must be strictly greater than every nonce
accepted before for the key, on any socket.  Refusals: 10100 ``apikey: invalid``, 10100
``apikey: digest invalid``, 10114 ``nonce: small``, 10100 ``auth: dup``, 10111 ``auth:
payload invalid`` (the simulator's own text).

Authenticated REST requests (:meth:`Auth.rest`) carry ``bfx-apikey``, ``bfx-nonce`` and
``bfx-signature``, the hex HMAC-SHA384 of ``"/api" + path + nonce + body`` (docs.bitfinex.com
rest-auth); the nonce is checked against the same per-key record as the WebSocket's (Bitfinex
checks one increasing nonce per key).  Refusals are HTTP 500 with ``["error", CODE, TEXT]``:
10100 ``apikey: invalid``, 10100 ``apikey: digest invalid``, 10114 ``nonce: small`` (as on the
wire: bitfinex-api-node #116, bitfinex-api-py #120) and 10114 ``nonce: invalid`` (no nonce:
the simulator's own text).  Used under the simulator's lock on its loop thread.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bpbfx.sim.bitfinex.accounts import _Account
from bpbfx.sim.bitfinex.clients import _Client
from bpbfx.sim.bitfinex.wire import _js

__all__ = ["AuthAttempt"]

_SNAPSHOT_TYPES = frozenset({"ps", "ws", "os", "fos", "fcs", "fls"})
_RE_PAYLOAD = re.compile(r"AUTH(\d{1,20})")

_CAPS: dict[str, dict[str, int]] = {
    "bfxpay": {"read": 0, "write": 0},
    "orders": {"read": 1, "write": 1},
    "account": {"read": 1, "write": 0},
    "funding": {"read": 1, "write": 1},
    "history": {"read": 1, "write": 0},
    "wallets": {"read": 1, "write": 0},
    "settings": {"read": 1, "write": 0},
    "withdraw": {"read": 0, "write": 0},
    "positions": {"read": 1, "write": 1},
    "ui_withdraw": {"read": 0, "write": 0},
}

# Channel-0 message types by auth filter (Bitfinex "Channel Filters").
_FILTER_TYPES: dict[str, frozenset[str]] = {
    "trading": frozenset({"os", "on", "ou", "oc", "te", "tu", "ps", "pn", "pu", "pc", "miu"}),
    "funding": frozenset({"fos", "fon", "fou", "foc", "fcs", "fcn", "fcu", "fcc", "fls", "fln", "flu", "flc",
                          "fte", "ftu", "fiu"}),
    "wallet": frozenset({"ws", "wu"}),
    "balance": frozenset({"bu"}),
    "notify": frozenset({"n"}),
}


@dataclass(frozen=True)
class AuthAttempt:
    """One ``auth`` event received.

    Attributes:
        conn_id: the connection.
        api_key: the key sent (``None`` when absent).
        nonce: the nonce read from the payload (``None`` when unreadable).
        ok: accepted.
        code: the error code of a refusal, else ``None``.
        msg: the error text of a refusal, else ``None``.
        filter: the ``filter`` list sent.
        dms: the ``dms`` value sent.
    """

    conn_id: int
    api_key: str | None
    nonce: int | None
    ok: bool
    code: int | None = None
    msg: str | None = None
    filter: tuple[str, ...] = ()
    dms: Any = None


# --------------------------------------------------------------------------- connections
@dataclass(eq=False)
class _Channel:
    chan_id: int


def wants(client: _Client, kind: str, data: Any) -> bool:
    """Bitfinex auth filters: ``trading``, ``trading-tBTCUSD``, ``funding``, ``funding-fUSD``,
    ``wallet``, ``wallet-exchange-BTC``, ``balance``, ``notify`` (no filter: everything)."""
    filters = client.filters
    if filters is None:
        return True
    for f in filters:
        base, _, detail = f.partition("-")
        types = _FILTER_TYPES.get(base)
        if types is None or kind not in types:
            continue
        if not detail or kind in _SNAPSHOT_TYPES:
            return True
        if base in ("trading", "funding") and _mentions(data, detail):
            return True
        if base == "wallet" and _mentions(data, detail.replace("-", "")):
            return True
    return False


def _mentions(data: Any, what: str) -> bool:
    rows = data if isinstance(data, list) and data and isinstance(data[0], list) else [data]
    for row in rows:
        if isinstance(row, list):
            if what in (str(v) for v in row[:4]):
                return True
            if len(row) > 1 and f"{row[0]}{row[1]}" == what:
                return True
    return False


class Auth:
    """Who may authenticate (``secrets``: API key -> secret), the nonces accepted and every
    attempt.  ``counters`` (the simulator's) counts ``auth_ok`` and ``auth_failed``."""

    def __init__(self, secrets: dict[str, str], mono: Callable[[], float], counters: dict[str, int]) -> None:
        self.secrets = secrets
        self.mono = mono
        self.counters = counters
        self.nonces: dict[str, int] = {}
        self.attempts: list[AuthAttempt] = []

    def auth(self, client: _Client, req: dict[str, Any], account_of: Callable[[str], _Account], now_ms: int) -> None:
        """Answer an ``auth`` event; once accepted, queue the account's snapshots (``os``,
        ``ws``...: those the socket's filters let through).  ``account_of`` gives (creating it)
        the account of an API key."""
        key = req.get("apiKey") if isinstance(req.get("apiKey"), str) else None
        payload = req.get("authPayload")
        sig = req.get("authSig")
        flt = req.get("filter")
        filters = tuple(str(f) for f in flt) if isinstance(flt, list) else ()
        # Bitfinex: the signature covers whatever authPayload says, which starts with "AUTH";
        # the nonce checked is authNonce (the official Node client sends AUTH<nonce><nonce>,
        # the Python one AUTH<nonce>; both send authNonce).  Without authNonce the digits of
        # the payload are taken.
        raw_nonce = req.get("authNonce")
        nonce: int | None = None
        if isinstance(raw_nonce, int) and not isinstance(raw_nonce, bool):
            nonce = raw_nonce
        elif isinstance(raw_nonce, str) and raw_nonce.isdigit() and len(raw_nonce) <= 20:
            nonce = int(raw_nonce)
        elif raw_nonce is None and isinstance(payload, str):
            match = _RE_PAYLOAD.fullmatch(payload)
            nonce = int(match.group(1)) if match else None

        def fail(code: int, msg: str) -> None:
            attempt = AuthAttempt(client.conn.id, key, nonce, False, code, msg, filters, req.get("dms"))
            self.attempts.append(attempt)
            self.counters["auth_failed"] += 1
            client.event({"event": "auth", "status": "FAILED", "chanId": 0, "code": code, "msg": msg})

        if client.account is not None:
            fail(10100, "auth: dup")
            return
        secret = self.secrets.get(key) if key is not None else None
        if key is None or secret is None:
            fail(10100, "apikey: invalid")
            return
        if not isinstance(payload, str) or not isinstance(sig, str):
            fail(10100, "apikey: digest invalid")
            return
        expected = hmac.new(secret.encode(), payload.encode(), hashlib.sha384).hexdigest()
        if not hmac.compare_digest(expected, sig.lower()):
            fail(10100, "apikey: digest invalid")
            return
        if nonce is None or nonce < 0 or not payload.startswith("AUTH"):
            fail(10111, "auth: payload invalid")
            return
        # Bitfinex: the nonce must grow for the key, across every connection.
        if nonce <= self.nonces.get(key, -1):
            fail(10114, "nonce: small")
            return
        self.nonces[key] = nonce
        self.attempts.append(AuthAttempt(client.conn.id, key, nonce, True, None, None, filters, req.get("dms")))
        self.counters["auth_ok"] += 1
        account = account_of(key)
        client.account = key
        client.filters = frozenset(filters) if filters else None
        client.last_hb0 = self.mono()
        client.dms = req.get("dms") == 4
        auth_id = uuid.UUID(int=account.rng.getrandbits(128), version=4)
        client.event(
            {"event": "auth", "status": "OK", "chanId": 0, "userId": account.user_id, "auth_id": str(auth_id),
             "caps": _CAPS},
        )
        for kind, data in account.snapshots():
            if wants(client, kind, data):
                client.channel0(kind, _js(data), now_ms)

    def rest(self, headers: Mapping[str, str], path: str, body: bytes) -> tuple[str | None, tuple[int, str] | None]:
        """Check an authenticated REST request: ``(api_key, None)`` when accepted (its nonce is
        recorded), else ``(None, (code, text))``.  ``headers`` have lower-case names."""
        key = headers.get("bfx-apikey")
        secret = self.secrets.get(key) if key is not None else None
        if key is None or secret is None:
            refusal = (10100, "apikey: invalid")
        else:
            nonce_text = headers.get("bfx-nonce", "")
            payload = f"/api{path}{nonce_text}".encode() + body
            expected = hmac.new(secret.encode(), payload, hashlib.sha384).hexdigest()
            if not nonce_text.isdigit() or len(nonce_text) > 20:
                refusal = (10114, "nonce: invalid")
            elif not hmac.compare_digest(expected, headers.get("bfx-signature", "").lower()):
                refusal = (10100, "apikey: digest invalid")
            elif int(nonce_text) <= self.nonces.get(key, -1):
                refusal = (10114, "nonce: small")
            else:
                self.nonces[key] = int(nonce_text)
                self.counters["rest_auth_ok"] += 1
                return key, None
        self.counters["rest_auth_failed"] += 1
        return None, refusal

    def unauth(self, client: _Client) -> None:
        """Answer an ``unauth`` event: the socket is no longer authenticated."""
        client.account = None
        client.filters = None
        client.event({"event": "unauth", "status": "OK", "chanId": 0})
