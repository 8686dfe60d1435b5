"""Trading sessions: RTH/ETH filtering, session statistics and session-aware indicators.

project-x-py 4.4.1's ``project_x_py.sessions`` under the same names and
signatures (``pxfast.compat`` maps one onto the other).  Everything is a
polars expression over whole columns; see ``pxfast.sessions.calendar`` for
the session rule (DST, the daily break, weekends, holidays) and each
module's docstring for where it deliberately differs from project-x-py.
Importing ``pxfast`` does not import this package.
"""

from pxfast.sessions.aggregation import aggregate_session_bars
from pxfast.sessions.config import (
    DEFAULT_SESSIONS,
    SessionConfig,
    SessionTimes,
    SessionType,
    resolve_session_product,
)
from pxfast.sessions.filtering import SessionFilterMixin
from pxfast.sessions.indicators import (
    aggregate_with_sessions,
    calculate_anchored_vwap,
    calculate_percent_from_open,
    calculate_relative_to_vwap,
    calculate_session_cumulative_volume,
    calculate_session_levels,
    calculate_session_vwap,
    generate_session_alerts,
)
from pxfast.sessions.statistics import SessionAnalytics, SessionStatistics

__all__ = [
    "DEFAULT_SESSIONS",
    "SessionAnalytics",
    "SessionConfig",
    "SessionFilterMixin",
    "SessionStatistics",
    "SessionTimes",
    "SessionType",
    "aggregate_session_bars",
    "aggregate_with_sessions",
    "calculate_anchored_vwap",
    "calculate_percent_from_open",
    "calculate_relative_to_vwap",
    "calculate_session_cumulative_volume",
    "calculate_session_levels",
    "calculate_session_vwap",
    "generate_session_alerts",
    "resolve_session_product",
]
