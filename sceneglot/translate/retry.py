"""Backoff for network backends: rate limits and flaky networks are retried, real errors are not."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from ..errors import BackendError

T = TypeVar("T")


class TransientError(Exception):
    """A failure worth retrying (429, 5xx, timeout, connection reset); `retry_after` in seconds if known."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def delays(attempts: int, base: float, cap: float) -> list[float]:
    """Exponential backoff with jitter: base, 2*base, 4*base ... capped, each ±25 %."""
    return [min(cap, base * 2**i) * random.uniform(0.75, 1.25) for i in range(attempts - 1)]


def with_retries(call: Callable[[], T], *, what: str, attempts: int = 4, base: float = 0.5, cap: float = 8.0,
                 sleep: Callable[[float], None] = time.sleep) -> T:
    """Run `call`; on TransientError wait and try again, at most `attempts` times, then BackendError."""
    last: TransientError | None = None
    waits = delays(attempts, base, cap)
    for i in range(attempts):
        try:
            return call()
        except TransientError as exc:
            last = exc
            if i < len(waits):
                wait = waits[i] if exc.retry_after is None else min(cap, max(exc.retry_after, waits[i]))
                sleep(wait)
    raise BackendError(f"{what} failed after {attempts} attempts: {last}")
