"""pxfast: a fast, exact and safe drop-in for project-x-py on the ProjectX Gateway.

The trading classes (``TradingSuite``, ``EventType``, ``ProjectX``, the
managers, templates and helpers) are exported lazily, on first access:
importing them pulls in the client and realtime stack, which the models,
enums and exceptions imported here eagerly do not need, and which the
embedded simulator (``pxfast.sim``) must never load.
"""

import importlib
from typing import Any

from pxfast._version import __version__
from pxfast.exceptions import (
    InvalidOrderParameters,
    OrderRateLimitedError,
    OrderSubmissionUncertainError,
    ProjectXAuthenticationError,
    ProjectXClientError,
    ProjectXConnectionError,
    ProjectXDataError,
    ProjectXError,
    ProjectXInstrumentError,
    ProjectXInsufficientMarginError,
    ProjectXOrderError,
    ProjectXPositionError,
    ProjectXRateLimitError,
    ProjectXRiskViolationError,
    ProjectXServerError,
    RiskLimitExceeded,
)
from pxfast.models import (
    Account,
    BracketOrderResponse,
    Instrument,
    OCOOrderResponse,
    Order,
    OrderPlaceResponse,
    Position,
    ProjectXConfig,
    Trade,
)
from pxfast.types import (
    AggregateBarUnit,
    DomType,
    OrderSide,
    OrderStatus,
    OrderType,
    PositionType,
    TradeLogType,
)

__all__ = [
    "Account",
    "AggregateBarUnit",
    "BracketOrderResponse",
    "DomType",
    "Instrument",
    "InvalidOrderParameters",
    "OCOOrderResponse",
    "Order",
    "OrderPlaceResponse",
    "OrderRateLimitedError",
    "OrderSide",
    "OrderStatus",
    "OrderSubmissionUncertainError",
    "OrderType",
    "Position",
    "PositionType",
    "ProjectXAuthenticationError",
    "ProjectXClientError",
    "ProjectXConfig",
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
    "Trade",
    "TradeLogType",
    "__version__",
]

#: Lazily exported name -> the module that defines it (project-x-py's top-level names).
_LAZY: dict[str, str] = {
    "ATRStopTemplate": "pxfast.order_templates",
    "BreakoutTemplate": "pxfast.order_templates",
    "ConfigManager": "pxfast.config",
    "EventBus": "pxfast.event_bus",
    "EventType": "pxfast.event_bus",
    "Features": "pxfast.trading_suite",
    "OrderChainBuilder": "pxfast.order_tracker",
    "OrderLifecycleError": "pxfast.order_tracker",
    "OrderManager": "pxfast.order_manager",
    "OrderManagerConfig": "pxfast.order_manager",
    "OrderTemplate": "pxfast.order_templates",
    "OrderTracker": "pxfast.order_tracker",
    "PositionManager": "pxfast.position_manager",
    "PositionManagerConfig": "pxfast.types.config_types",
    "ProjectX": "pxfast.client",
    "ProjectXRealtimeClient": "pxfast.realtime",
    "RealtimeDataManager": "pxfast.realtime_data_manager",
    "RiskRewardTemplate": "pxfast.order_templates",
    "ScalpingTemplate": "pxfast.order_templates",
    "TradingSuite": "pxfast.trading_suite",
    "TradingSuiteConfig": "pxfast.trading_suite",
    "get_template": "pxfast.order_templates",
    "load_default_config": "pxfast.config",
    "DEFAULT_SESSIONS": "pxfast.sessions",
    "SessionAnalytics": "pxfast.sessions",
    "SessionConfig": "pxfast.sessions",
    "SessionFilterMixin": "pxfast.sessions",
    "SessionStatistics": "pxfast.sessions",
    "SessionTimes": "pxfast.sessions",
    "SessionType": "pxfast.sessions",
    "aggregate_session_bars": "pxfast.sessions",
    "resolve_session_product": "pxfast.sessions",
    "round_to_tick_size": "pxfast.utils",
    "setup_logging": "pxfast.utils",
}

#: project-x-py top-level names of features pxfast leaves out (see pxfast.compat).
_NOT_IMPLEMENTED: dict[str, str] = {
    **dict.fromkeys(
        (
            "calculate_adx",
            "calculate_atr",
            "calculate_bollinger_bands",
            "calculate_commodity_channel_index",
            "calculate_ema",
            "calculate_macd",
            "calculate_obv",
            "calculate_rsi",
            "calculate_sma",
            "calculate_stochastic",
            "calculate_vwap",
            "calculate_williams_r",
        ),
        "technical indicators",
    ),
    **dict.fromkeys(("OrderBook", "create_orderbook"), "order-book analytics"),
    **dict.fromkeys(("MemoryMappedStorage", "TimeSeriesStorage"), "bar storage"),
    **dict.fromkeys(
        ("calculate_max_drawdown", "calculate_portfolio_metrics", "calculate_sharpe_ratio"),
        "portfolio analytics",
    ),
}

__all__ += sorted(_LAZY)


def __getattr__(name: str) -> Any:
    """Import a lazily exported name on first use; name what pxfast does not implement.

    A project-x-py feature pxfast leaves out raises ImportError (so ``from
    pxfast import calculate_rsi`` says why, instead of Python's bare
    "cannot import name"); anything else unknown is the usual AttributeError.
    """
    module_name = _LAZY.get(name)
    if module_name is not None:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise  # a real import failure inside pxfast, not a missing feature
            module = None
        if module is not None and hasattr(module, name):
            value = getattr(module, name)
            globals()[name] = value
            return value
        raise ImportError(
            f"pxfast does not implement project-x-py's {name} (expected in {module_name})",
            name=__name__,
        )
    feature = _NOT_IMPLEMENTED.get(name)
    if feature is not None:
        raise ImportError(
            f"pxfast does not implement project-x-py's {name} ({feature})", name=__name__
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
