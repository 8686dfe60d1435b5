"""The auto-retry policy of ``enable_auto_retry``: resend only what certainly did not execute.

The guide's names map to failures pxfast can tell apart:

* ``"NetworkTimeout"`` — the connection could not be made (nothing was sent),
  or a place timed out and its tag lookup then proved the order absent;
* ``"TemporaryUnavailable"`` — HTTP 502/503/504 (any 5xx) on a place whose tag
  lookup proved the order absent;
* ``"RateLimitExceeded"`` — HTTP 429, or the local budget refused to send.

A modify or cancel that may have executed is never resent.  A place is
resent with the *same* customTag, so even a Gateway that was merely slow to
show the first order refuses the second as a duplicate tag, and pxfast then
returns the first.
"""

from __future__ import annotations

from collections.abc import Iterable

from pxfast.exceptions import (
    OrderRateLimitedError,
    OrderSubmissionUncertainError,
    ProjectXConnectionError,
)

__all__ = ["KNOWN_ERRORS", "RetryPolicy", "error_kind"]

KNOWN_ERRORS = frozenset({"NetworkTimeout", "TemporaryUnavailable", "RateLimitExceeded"})


def error_kind(exc: BaseException) -> str | None:
    """The recoverable-error name of a failure, or None if it is not recoverable."""
    if isinstance(exc, OrderRateLimitedError):
        return "RateLimitExceeded"
    if isinstance(exc, OrderSubmissionUncertainError):
        return (
            "TemporaryUnavailable"
            if getattr(exc, "kind", None) == "server_error"
            else "NetworkTimeout"
        )
    if isinstance(exc, ProjectXConnectionError):
        return "NetworkTimeout"
    return None


class RetryPolicy:
    def __init__(
        self,
        max_attempts: int = 3,
        backoff_factor: float = 2.0,
        recoverable_errors: Iterable[str | type[BaseException]] | None = None,
        *,
        initial_delay: float = 0.5,
    ) -> None:
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise ValueError(f"max_attempts must be an int >= 1, got {max_attempts!r}")
        if backoff_factor < 1:
            raise ValueError(f"backoff_factor must be >= 1, got {backoff_factor!r}")
        if initial_delay < 0:
            raise ValueError(f"initial_delay must be >= 0, got {initial_delay!r}")
        names: set[str] = set()
        classes: list[type[BaseException]] = []
        for item in recoverable_errors if recoverable_errors is not None else KNOWN_ERRORS:
            if isinstance(item, str):
                if item not in KNOWN_ERRORS:
                    raise ValueError(
                        f"Unknown recoverable error {item!r}; known: {sorted(KNOWN_ERRORS)}"
                    )
                names.add(item)
            elif isinstance(item, type) and issubclass(item, BaseException):
                classes.append(item)
            else:
                raise TypeError(
                    f"recoverable_errors takes names or exception classes, not {item!r}"
                )
        self.max_attempts = max_attempts
        self.backoff_factor = backoff_factor
        self.initial_delay = initial_delay
        self.names = frozenset(names)
        self.classes = tuple(classes)

    def retries(self, exc: BaseException, attempt: int, *, resolved_absent: bool) -> bool:
        """Whether attempt ``attempt`` (0-based) that failed with ``exc`` may be sent again.

        ``resolved_absent`` is True only when a lookup proved that an uncertain
        place did not create an order.
        """
        if attempt + 1 >= self.max_attempts:
            return False
        uncertain = isinstance(exc, OrderSubmissionUncertainError) and not isinstance(
            exc, OrderRateLimitedError
        )
        if uncertain and not resolved_absent:
            return False
        kind = error_kind(exc)
        if kind is not None and kind in self.names:
            return True
        return bool(self.classes) and isinstance(exc, self.classes)

    def delay(self, attempt: int) -> float:
        return float(self.initial_delay * self.backoff_factor**attempt)
