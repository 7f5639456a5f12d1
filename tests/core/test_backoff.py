"""Backoff policy: delays computed without sleeping."""

from __future__ import annotations

import pytest

from bpbfx import Backoff, ConfigurationError


def test_exponential_growth_is_capped() -> None:
    """Delays double from `initial` until `cap`, then stay at the cap."""
    policy = Backoff(initial=1.0, factor=2.0, cap=8.0, jitter=0.0)
    assert [policy.delay(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_jitter_scales_within_bounds() -> None:
    """With jitter 0.5 a delay lies between half and all of the base delay."""
    policy = Backoff(initial=4.0, factor=2.0, cap=100.0, jitter=0.5)
    assert policy.delay(1, rand=lambda: 0.0) == 4.0
    assert policy.delay(1, rand=lambda: 0.999999) == pytest.approx(2.0, rel=1e-5)
    assert policy.delay(3, rand=lambda: 0.5) == pytest.approx(12.0)


def test_huge_attempt_does_not_overflow() -> None:
    """A connection that failed for days still gets the capped delay, not an overflow."""
    assert Backoff(initial=1.0, cap=30.0, jitter=0.0).delay(10_000) == 30.0


def test_delays_iterator_and_repr() -> None:
    """The delays generator yields the same numbers as delay(); the value has a readable repr."""
    policy = Backoff(initial=0.5, factor=3.0, cap=10.0, jitter=0.0)
    gen = policy.delays()
    assert [next(gen) for _ in range(4)] == [0.5, 1.5, 4.5, 10.0]
    assert "initial=0.5" in repr(policy)


@pytest.mark.parametrize(
    "kwargs", [{"initial": -1.0}, {"factor": 0.5}, {"jitter": 1.5}, {"cap": -2.0}]
)
def test_invalid_policy_rejected(kwargs: dict[str, float]) -> None:
    """Nonsensical policies raise ConfigurationError at construction."""
    with pytest.raises(ConfigurationError):
        Backoff(**kwargs)


def test_policy_is_immutable() -> None:
    """A policy is a frozen value that can be shared between clients."""
    policy = Backoff()
    with pytest.raises(AttributeError):
        policy.cap = 1.0  # type: ignore[misc]
