"""Events shared by both exchanges.

Every event a client hands to ``on_message`` is a frozen, slotted dataclass deriving from
:class:`Event`: it keeps the stream it came from (``stream``), its market (``symbol``, or
``None`` for account-wide or global streams) and the decoded payload exactly as received
(``data``).  Exchange-specific events live in :mod:`bpbfx.backpack.events` and
:mod:`bpbfx.bitfinex.events`.

Conventions: prices, sizes and rates are :class:`decimal.Decimal` built from the exchange's
own text (never through ``float``); times are integers whose unit is in the field name
(``_us`` microseconds, ``_ms`` milliseconds).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = ["Event", "UnknownEvent", "positional_factory"]

E = TypeVar("E")


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of every event.

    Attributes:
        stream: the stream name as the client knows it (Backpack ``"trade.SOL_USDC"``,
            Bitfinex ``"trades:tBTCUSD"``).
        symbol: the market, or ``None`` where the stream has none.
        data: the payload as decoded from JSON, untouched.
    """

    stream: str
    symbol: str | None
    data: Any = field(repr=False, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownEvent(Event):
    """A frame from a stream or of a type this version does not decode.

    It is delivered rather than dropped, so new exchange features reach users before bpbfx
    knows them.
    """


def positional_factory(cls: type[E]) -> Callable[..., E]:
    """A constructor for the frozen, slotted dataclass ``cls`` taking its ``init`` fields
    positionally, in field order (base class fields first), that writes the slots directly
    instead of going through the frozen ``__setattr__`` check: about half the cost of
    ``cls(**kwargs)``.  Fields with ``init=False`` get their default; the last fields, as long
    as each has a plain default, may be left out.  For the decoders' hot
    paths; the caller passes values that are already validated.  Any thread.

    Raises:
        TypeError: ``cls`` is not a slotted dataclass, has a ``__post_init__``, or an
            ``init=False`` field without a plain default.
    """
    if not dataclasses.is_dataclass(cls) or "__slots__" not in cls.__dict__ or hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} is not a slotted dataclass without __post_init__")
    params: list[str] = []
    body: list[str] = []
    env: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    fields = dataclasses.fields(cls)
    # The trailing run of init fields with a plain default may be left out (a field added at
    # the end of an event keeps the decoders' existing calls working).
    optional: set[str] = set()
    for f in reversed([f for f in fields if f.init]):
        if f.default is dataclasses.MISSING:
            break
        optional.add(f.name)
    for i, f in enumerate(fields):
        setter = f"_s{i}"
        owner = next(k for k in cls.__mro__ if f.name in k.__dict__.get("__slots__", ()))
        env[setter] = owner.__dict__[f.name].__set__
        if f.init:
            if f.name in optional:
                env[f"_d{i}"] = f.default
                params.append(f"{f.name}=_d{i}")
            else:
                params.append(f.name)
            body.append(f"    {setter}(obj, {f.name})")
        else:
            if f.default is dataclasses.MISSING:
                raise TypeError(f"{cls.__name__}.{f.name}: init=False field without a default")
            env[f"_d{i}"] = f.default
            body.append(f"    {setter}(obj, _d{i})")
    source = f"def make({', '.join(params)}):\n    obj = _new(_cls)\n" + "\n".join(body) + "\n    return obj\n"
    namespace: dict[str, Any] = {}
    exec(source, env, namespace)  # generated from the dataclass's own field names only
    make: Callable[..., E] = namespace["make"]
    names = ", ".join(p.partition("=")[0] for p in params)
    make.__doc__ = f"Positional {cls.__name__}({names}) (see bpbfx.events.positional_factory)."
    return make
