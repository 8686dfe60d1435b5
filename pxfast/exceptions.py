"""The project-x-py exception tree, plus the guide's typed additions.

Every pxfast addition subclasses a project-x-py class, so an ``except`` clause
written for project-x-py still catches it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = [
    "InvalidOrderParameters",
    "OrderLifecycleError",
    "OrderRateLimitedError",
    "OrderSubmissionUncertainError",
    "ProjectXAuthenticationError",
    "ProjectXClientError",
    "ProjectXConnectionError",
    "ProjectXDataError",
    "ProjectXError",
    "ProjectXInstrumentError",
    "ProjectXInsufficientMarginError",
    "ProjectXOrderError",
    "ProjectXPositionError",
    "ProjectXRateLimitError",
    "ProjectXRiskViolationError",
    "ProjectXServerError",
    "RiskLimitExceeded",
]


class ProjectXError(Exception):
    """Base of every pxfast error; ``error_code`` is the Gateway's errorCode when known."""

    def __init__(
        self,
        message: str,
        error_code: int | None = None,
        response_data: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code
        self.response_data: dict[str, Any] = response_data or {}


class ProjectXAuthenticationError(ProjectXError):
    pass


class ProjectXRateLimitError(ProjectXError):
    pass


class ProjectXServerError(ProjectXError):
    """HTTP 5xx from the Gateway."""


class ProjectXClientError(ProjectXError):
    """HTTP 4xx from the Gateway (other than 401/429)."""


class ProjectXConnectionError(ProjectXError):
    pass


class ProjectXDataError(ProjectXError):
    pass


class ProjectXOrderError(ProjectXError):
    pass


class OrderSubmissionUncertainError(ProjectXOrderError):
    """A mutation may or may not have reached the Gateway; reconcile before retrying.

    ``payload`` is the request body that was (maybe) sent.
    """

    def __init__(
        self,
        message: str,
        error_code: int | None = None,
        response_data: dict[str, Any] | None = None,
        payload: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, error_code, response_data)
        self.payload = payload


class ProjectXPositionError(ProjectXError):
    pass


class ProjectXInstrumentError(ProjectXError):
    pass


class RiskLimitExceeded(ProjectXError):
    pass


class InvalidOrderParameters(ProjectXError):
    pass


class ProjectXInsufficientMarginError(ProjectXOrderError):
    """The Gateway refused an order for lack of funds or margin (Order/place code 3)."""


class ProjectXRiskViolationError(ProjectXOrderError, RiskLimitExceeded):
    """The client-side risk gate refused an order before anything was sent."""

    def __init__(
        self,
        reasons: Iterable[str],
        error_code: int | None = None,
        response_data: dict[str, Any] | None = None,
    ) -> None:
        self.reasons: list[str] = list(reasons)
        super().__init__(
            "Risk validation failed: " + "; ".join(self.reasons), error_code, response_data
        )


class OrderRateLimitedError(OrderSubmissionUncertainError, ProjectXRateLimitError):
    """A mutation met a rate limit.

    Raised for a 429 on a mutating endpoint (the request may have been
    counted) and when the local budget refuses to send it at all (then
    ``sent`` is False and nothing reached the Gateway).
    """

    def __init__(
        self,
        message: str,
        error_code: int | None = None,
        response_data: dict[str, Any] | None = None,
        payload: dict[str, Any] | None = None,
        *,
        sent: bool = True,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, error_code, response_data, payload)
        self.sent = sent
        self.retry_after = retry_after


class OrderLifecycleError(Exception):
    """Raised by ``OrderTracker`` waits (not a ProjectXError, as in project-x-py)."""
