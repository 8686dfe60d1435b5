"""``SessionFilterMixin``: keep the bars of one trading session (project-x-py's API).

Filtering is one vectorised mask over the timestamp column (see
``pxfast.sessions.calendar`` for the rule).  Where it differs from
project-x-py 4.4.1, deliberately:

* RTH ends before ``rth_end`` (project-x-py keeps the bar stamped 16:00 ET,
  which opens after the close, in ``filter_by_session``; its own
  ``is_in_session`` excludes it).
* ETH drops the weekend (Friday after the close to the Sunday open) and the
  CME full-closure holidays; project-x-py's ETH filter only drops the
  17:00-18:00 ET hour, so Saturday bars are "ETH".
* The daily break follows the product's own hours (FX 16:00-17:00 ET,
  grains' morning and afternoon gaps); project-x-py applies 17:00-18:00 ET to
  every product but three Treasury roots, where it drops 16:00-18:00 ET.
* ``config.product_sessions`` is honoured (project-x-py's filter ignores it).
* ``is_in_session`` uses the holiday table (project-x-py closes Dec 25 and
  Dec 31 only) and closes Friday evening.
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from pxfast.sessions.calendar import session_label, session_mask
from pxfast.sessions.config import (
    DEFAULT_SESSIONS,
    SessionConfig,
    SessionTimes,
    SessionType,
    resolve_session_product,
)

__all__ = ["SessionFilterMixin"]

_REQUIRED = ("timestamp", "open", "high", "low", "close", "volume")


class SessionFilterMixin:
    # project-x-py's tuning knobs, kept as attributes for code that reads them;
    # the polars filter here needs neither lazy evaluation nor a boundary cache.
    LAZY_EVAL_THRESHOLD = 100_000
    CACHE_MAX_SIZE = 1000
    CACHE_TTL_SECONDS = 3600

    def __init__(
        self,
        config: SessionConfig | None = None,
        lazy_eval_threshold: int | None = None,
        cache_max_size: int | None = None,
        cache_ttl: int | None = None,
    ) -> None:
        self.config = config or SessionConfig()
        self.lazy_eval_threshold = lazy_eval_threshold or self.LAZY_EVAL_THRESHOLD
        self.cache_max_size = cache_max_size or self.CACHE_MAX_SIZE
        self.cache_ttl = cache_ttl or self.CACHE_TTL_SECONDS

    def session_times(self, product: str, custom: SessionTimes | None = None) -> SessionTimes:
        """``custom``, else the config's override, else the default for ``product``'s root."""
        if custom is not None:
            return custom
        overrides = self.config.product_sessions or {}
        root = resolve_session_product(product)
        for key in (product, root):
            if key in overrides:
                return overrides[key]
        if root in DEFAULT_SESSIONS:
            return DEFAULT_SESSIONS[root]
        raise ValueError(f"Unknown product: {product}")

    async def filter_by_session(
        self,
        data: pl.DataFrame,
        session_type: SessionType,
        product: str,
        custom_session_times: SessionTimes | None = None,
    ) -> pl.DataFrame:
        if data.is_empty():
            return data
        missing = [c for c in _REQUIRED if c not in data.columns]
        if missing:
            raise ValueError(f"Missing required column: {', '.join(missing)}")
        data = _with_datetime_timestamps(data)
        session_type = SessionType(session_type) if isinstance(session_type, str) else session_type
        times = self.session_times(product, custom_session_times)
        return data.filter(session_mask(data, session_type, times))

    def is_in_session(
        self, timestamp: datetime | str, session_type: SessionType, product: str
    ) -> bool:
        """Whether ``timestamp`` (aware; naive is read as UTC) trades in ``session_type``."""
        if not isinstance(timestamp, datetime):
            raise ValueError(f"timestamp must be a datetime object, got {type(timestamp).__name__}")
        moment = timestamp if timestamp.tzinfo else timestamp.replace(tzinfo=UTC)
        times = self.session_times(product)
        label = session_label(moment, times)
        if session_type == SessionType.ETH:
            return label != "BREAK"
        return label == "RTH"


def _with_datetime_timestamps(data: pl.DataFrame) -> pl.DataFrame:
    """Parse a string ``timestamp`` column (as UTC), as project-x-py accepts one."""
    if isinstance(data.schema["timestamp"], pl.Datetime):
        return data
    try:
        return data.with_columns(pl.col("timestamp").str.to_datetime().dt.replace_time_zone("UTC"))
    except Exception as exc:
        raise ValueError(
            "Invalid timestamp format - must be datetime or convertible string"
        ) from exc
