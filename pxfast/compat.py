"""Opt-in drop-in mode: ``import project_x_py`` resolves to pxfast.

A bot written for project-x-py runs unchanged on pxfast once this is
installed, either from code::

    import pxfast.compat
    pxfast.compat.install()
    from project_x_py import TradingSuite  # pxfast.trading_suite.TradingSuite

or without touching the bot at all::

    python -m pxfast.compat bot.py [args...]

``project_x_py.X`` is mapped one to one onto ``pxfast.X``, and both names
are bound to the *same* module object: a class imported under one name is
the class imported under the other, so ``isinstance`` checks and ``except``
clauses work whichever name a piece of code used.

project-x-py modules that pxfast does not implement (technical indicators,
order-book analytics, ...) fail to import with an
``ImportError`` that names the module and says why, never with a silently
empty stand-in: a bot that depends on one of them should stop at import,
not at its first trade.  Likewise every public name of project-x-py 4.4.1
that pxfast lacks (``MISSING_NAMES``) raises ``MissingNameError``, an
ImportError naming it and what to use instead, on ``from project_x_py[.X]
import name``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import runpy
import sys
from collections.abc import Sequence
from types import ModuleType

__all__ = [
    "ALIAS",
    "MISSING_NAMES",
    "NOT_IMPLEMENTED",
    "TARGET",
    "MissingNameError",
    "ProjectXPyAliasFinder",
    "install",
    "installed",
    "main",
    "uninstall",
]

#: The package name bots import.
ALIAS = "project_x_py"
#: The package that provides it.
TARGET = "pxfast"

#: project-x-py packages pxfast deliberately leaves out, with what they are for.
NOT_IMPLEMENTED: dict[str, str] = {
    "data": "memory-mapped bar storage",
    "indicators": "technical indicators",
    "orderbook": "order-book analytics",
    "statistics": "statistics aggregation and export",
}

# What to use instead of each group of missing names (MISSING_NAMES' values).
_RESPONSES = "pxfast returns its models (pxfast.models) and plain dicts; annotate with those"
_BASE_TYPES = "annotate with int, str or pxfast.event_bus.Handler directly"
_CALLBACK_DATA = "event handlers get a pxfast.event_bus.Event whose .data is a plain dict"
_ORDER_BOOK = (
    "pxfast has no order book; TradingSuite.create(..., market_depth=True) delivers "
    "the raw MARKET_DEPTH_UPDATE events"
)
_PROTOCOLS = "annotate with pxfast's classes (ProjectX, OrderManager, PositionManager, ...)"
_STATS = "read suite.get_stats() and suite.get_health(), plain dicts"
_ERRORS = "pxfast's client retries by itself and raises the pxfast.exceptions classes"
_LOGGING = "configure the standard logging module; pxfast logs under the 'pxfast' logger"
_RATE_LIMITER = "pxfast's client paces every request to the Gateway's limits by itself"
_PORTFOLIO = "pxfast does not implement portfolio analytics"
_TRADING_MATH = (
    "use RiskManager.calculate_position_size (features=['risk_manager']), "
    "round_to_tick_size and the instrument's tickSize and tickValue"
)
_PATTERNS = "pxfast does not implement pattern detection"
_POLARS = "use polars directly on RealtimeDataManager.get_data()"
_FORMATTING = "format with f-strings"
_MARKET_HOURS = "use project_x_py.sessions (SessionConfig, SessionTimes)"
_ENV = "use load_default_config() or ProjectXConfig(...), with PROJECTX_* environment variables"
_CLIENT_BASE = "use ProjectX"
_AUTHOR = "__version__ identifies the package"
_CIRCUIT_BREAKER = (
    "pxfast's hubs reconnect with backoff by themselves; suite.get_health() reports them"
)
_DATA_INTERNALS = "internals of project-x-py's RealtimeDataManager; use its public methods"

#: project-x-py 4.4.1 public names (its modules' ``__all__``; "" is the package
#: itself) that the pxfast module of the same path lacks, each with what to use
#: instead.  ``from project_x_py.X import name`` raises MissingNameError for them.
#: tests/integration/test_api_surface.py checks this against the real package.
MISSING_NAMES: dict[str, dict[str, str]] = {
    "": {
        **dict.fromkeys(
            (
                "HealthStatusResponse",
                "PerformanceStatsResponse",
                "PortfolioMetricsResponse",
                "RiskAnalysisResponse",
            ),
            _RESPONSES,
        ),
        **dict.fromkeys(("RateLimiter",), _RATE_LIMITER),
        **dict.fromkeys(("__author__",), _AUTHOR),
        **dict.fromkeys(("create_custom_config", "get_env_var", "load_topstepx_config"), _ENV),
    },
    "client": {
        **dict.fromkeys(("ProjectXBase",), _CLIENT_BASE),
        **dict.fromkeys(("RateLimiter",), _RATE_LIMITER),
    },
    "config": {
        **dict.fromkeys(
            (
                "check_environment",
                "create_config_template",
                "create_custom_config",
                "get_default_config_path",
                "load_topstepx_config",
            ),
            _ENV,
        ),
    },
    "realtime": {
        **dict.fromkeys(
            (
                "CircuitBreaker",
                "CircuitBreakerConfig",
                "CircuitBreakerError",
                "CircuitBreakerMetrics",
                "CircuitBreakerMixin",
                "CircuitState",
            ),
            _CIRCUIT_BREAKER,
        ),
    },
    "realtime_data_manager": {
        **dict.fromkeys(
            ("DSTHandlingMixin", "LazyDataFrameMixin", "LazyQueryCache", "QueryOptimizer"),
            _DATA_INTERNALS,
        ),
    },
    "types": {
        **dict.fromkeys(
            (
                "APIErrorResponse",
                "AccountListResponse",
                "AccountResponse",
                "AccountUpdatePayload",
                "AuthLoginResponse",
                "BarData",
                "BarDataResponse",
                "ComprehensiveAnalysisResponse",
                "ConnectionStatsResponse",
                "ErrorResponse",
                "HealthStatusResponse",
                "IcebergDetectionResponse",
                "InstrumentResponse",
                "InstrumentSearchResponse",
                "LiquidityAnalysisResponse",
                "MarketDepthLevel",
                "MarketDepthResponse",
                "MarketDepthUpdatePayload",
                "MarketImpactResponse",
                "MarketTradePayload",
                "MemoryStatsResponse",
                "OrderPlacementResponse",
                "OrderResponse",
                "OrderSearchResponse",
                "OrderStatsResponse",
                "OrderUpdatePayload",
                "OrderbookAnalysisResponse",
                "PerformanceStatsResponse",
                "PortfolioMetricsResponse",
                "PositionAnalysisResponse",
                "PositionResponse",
                "PositionSearchResponse",
                "PositionSizingResponse",
                "PositionUpdatePayload",
                "QuoteData",
                "QuoteUpdatePayload",
                "RiskAnalysisResponse",
                "RiskValidationResponse",
                "SpoofingDetectionResponse",
                "TradeAnalysisResponse",
                "TradeExecutionPayload",
                "TradeResponse",
                "TradeSearchResponse",
                "VolumeProfileListResponse",
                "VolumeProfileResponse",
            ),
            _RESPONSES,
        ),
        **dict.fromkeys(
            (
                "AccountId",
                "AsyncCallback",
                "CallbackType",
                "ContractId",
                "DEFAULT_TIMEZONE",
                "OrderId",
                "PositionId",
                "SyncCallback",
                "TICK_SIZE_PRECISION",
            ),
            _BASE_TYPES,
        ),
        **dict.fromkeys(
            (
                "AccountUpdateData",
                "ConnectionStatusData",
                "ErrorData",
                "MarketDepthData",
                "MarketTradeData",
                "NewBarData",
                "OrderFilledData",
                "OrderUpdateData",
                "PositionAlertData",
                "PositionClosedData",
                "PositionUpdateData",
                "QuoteUpdateData",
                "SystemStatusData",
                "TradeExecutionData",
            ),
            _CALLBACK_DATA,
        ),
        **dict.fromkeys(
            (
                "IcebergConfig",
                "MarketDataDict",
                "MemoryConfig",
                "OrderbookSide",
                "OrderbookSnapshot",
                "PriceLevelDict",
                "TradeDict",
            ),
            _ORDER_BOOK,
        ),
        **dict.fromkeys(
            (
                "OrderManagerProtocol",
                "PositionManagerProtocol",
                "ProjectXClientProtocol",
                "ProjectXRealtimeClientProtocol",
                "RealtimeDataManagerProtocol",
            ),
            _PROTOCOLS,
        ),
        **dict.fromkeys(
            (
                "CacheStats",
                "ComponentStats",
                "ComprehensiveStats",
                "HTTPClientStats",
                "MemoryUsageStats",
                "OrderManagerStats",
                "OrderbookStats",
                "PositionManagerStats",
                "RealtimeConnectionStats",
                "RealtimeDataManagerStats",
                "TradingSuiteStats",
            ),
            _STATS,
        ),
    },
    "utils": {
        **dict.fromkeys(
            (
                "ErrorCode",
                "ErrorContext",
                "ErrorMessages",
                "format_error_message",
                "handle_errors",
                "handle_rate_limit",
                "retry_on_network_error",
                "validate_response",
            ),
            _ERRORS,
        ),
        **dict.fromkeys(
            (
                "LogContext",
                "LogMessages",
                "ProjectXLogger",
                "configure_sdk_logging",
                "log_api_call",
            ),
            _LOGGING,
        ),
        **dict.fromkeys(("RateLimiter",), _RATE_LIMITER),
        **dict.fromkeys(
            (
                "calculate_correlation_matrix",
                "calculate_max_drawdown",
                "calculate_portfolio_metrics",
                "calculate_sharpe_ratio",
                "calculate_volatility_metrics",
            ),
            _PORTFOLIO,
        ),
        **dict.fromkeys(
            (
                "calculate_position_sizing",
                "calculate_position_value",
                "calculate_risk_reward_ratio",
                "calculate_tick_value",
            ),
            _TRADING_MATH,
        ),
        **dict.fromkeys(
            (
                "convert_timeframe_to_seconds",
                "get_market_session_info",
                "is_market_hours",
                "validate_contract_id",
            ),
            _MARKET_HOURS,
        ),
        **dict.fromkeys(
            ("create_data_snapshot", "get_polars_last_value", "get_polars_rows"), _POLARS
        ),
        **dict.fromkeys(("detect_candlestick_patterns", "detect_chart_patterns"), _PATTERNS),
        **dict.fromkeys(("format_price", "format_volume"), _FORMATTING),
        **dict.fromkeys(("get_env_var",), _ENV),
    },
}


class MissingNameError(ImportError):
    """A public project-x-py name that pxfast does not provide.

    An ImportError, so ``from project_x_py import X`` stops the bot at import
    with a message naming X and what to use instead, not Python's bare
    "cannot import name".
    """


#: Modules given a missing-name ``__getattr__``: name -> the one they had before.
_guarded: dict[str, tuple[ModuleType, object]] = {}


def _guard(module: ModuleType, alias: str) -> None:
    """Give ``module`` a ``__getattr__`` that names what pxfast lacks (once per module).

    A module-level ``__getattr__`` the module already had is asked first, so
    its lazy exports keep working.
    """
    missing = MISSING_NAMES.get(alias[len(ALIAS) + 1 :])
    if not missing or module.__name__ in _guarded:
        return
    previous = module.__dict__.get("__getattr__")

    def __getattr__(name: str) -> object:
        if callable(previous):
            try:
                return previous(name)
            except AttributeError:
                pass
        instead = missing.get(name)
        if instead is None:
            raise AttributeError(f"module {alias!r} has no attribute {name!r}")
        raise MissingNameError(
            f"{alias}.{name} is not available under pxfast.compat: pxfast does not "
            f"implement {name}; {instead}",
            name=alias,
        )

    _guarded[module.__name__] = (module, previous)
    module.__dict__["__getattr__"] = __getattr__


def _unguard() -> None:
    for module, previous in _guarded.values():
        if previous is None:
            del module.__dict__["__getattr__"]
        else:
            module.__dict__["__getattr__"] = previous
    _guarded.clear()


def _target_name(fullname: str) -> str:
    return TARGET + fullname[len(ALIAS) :]


def _is_alias(fullname: str) -> bool:
    return fullname == ALIAS or fullname.startswith(ALIAS + ".")


class _AliasLoader(importlib.abc.Loader):
    """Hands the import system the already-imported pxfast module itself.

    ``create_module`` returns the existing module, so the import machinery
    binds ``sys.modules["project_x_py.X"]`` to the very object that
    ``sys.modules["pxfast.X"]`` holds; the module's own ``__name__``,
    ``__spec__`` and ``__file__`` are left as they are (the machinery only
    fills in attributes that are missing).
    """

    def __init__(self, module: ModuleType) -> None:
        self._module = module

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return self._module

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the pxfast module was executed by its own import."""


class ProjectXPyAliasFinder(importlib.abc.MetaPathFinder):
    """Resolves ``project_x_py[.X]`` to ``pxfast[.X]`` (a meta-path finder)."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if not _is_alias(fullname):
            return None
        module = _import_target(fullname)
        is_package = hasattr(module, "__path__")
        return importlib.machinery.ModuleSpec(
            fullname,
            _AliasLoader(module),
            origin=getattr(module, "__file__", None),
            is_package=is_package,
        )


def _import_target(fullname: str) -> ModuleType:
    """The pxfast module behind ``fullname``, or an ImportError that names what is missing."""
    target = _target_name(fullname)
    if importlib.util.find_spec(target) is None:
        first = fullname.split(".")[1] if "." in fullname else ""
        why = NOT_IMPLEMENTED.get(first)
        detail = (
            f"pxfast does not implement project-x-py's {why} ({ALIAS}.{first})"
            if why is not None
            else f"pxfast has no {target} module"
        )
        raise ModuleNotFoundError(
            f"{fullname} is not available under pxfast.compat: {detail}. pxfast implements "
            "project-x-py's trading stack (client, orders, positions, risk, realtime data, "
            "events); import this feature from project-x-py itself, without pxfast.compat.",
            name=fullname,
        )
    module = importlib.import_module(target)
    _guard(module, fullname)
    return module


_finder: ProjectXPyAliasFinder | None = None


def installed() -> bool:
    """Whether ``install()`` is in effect."""
    return _finder is not None and _finder in sys.meta_path


def install() -> None:
    """Make ``import project_x_py[.X]`` resolve to ``pxfast[.X]``; calling it again is a no-op.

    Raises RuntimeError if the real project-x-py was already imported in
    this process: its objects are in use, and two libraries answering to one
    name would make ``isinstance`` lie.
    """
    global _finder
    if installed():
        return
    for name, module in list(sys.modules.items()):
        if _is_alias(name) and not _is_pxfast_module(module):
            raise RuntimeError(
                f"the real {name} is already imported; install pxfast.compat before any "
                f"import of {ALIAS}"
            )
    _finder = ProjectXPyAliasFinder()
    sys.meta_path.insert(0, _finder)


def uninstall() -> None:
    """Undo ``install()``: remove the finder and the ``project_x_py`` names it created.

    Modules that already imported names from ``project_x_py`` keep the pxfast
    objects they hold.
    """
    global _finder
    if _finder is not None:
        while _finder in sys.meta_path:
            sys.meta_path.remove(_finder)
        _finder = None
    _unguard()
    for name, module in list(sys.modules.items()):
        if _is_alias(name) and _is_pxfast_module(module):
            del sys.modules[name]


def _is_pxfast_module(module: object) -> bool:
    name = getattr(module, "__name__", "")
    return isinstance(name, str) and (name == TARGET or name.startswith(TARGET + "."))


_USAGE = """usage: python -m pxfast.compat SCRIPT [ARGS...]
       python -m pxfast.compat -m MODULE [ARGS...]

Run a project-x-py bot on pxfast: installs pxfast.compat, then runs SCRIPT
(or MODULE) as __main__ with sys.argv set to [SCRIPT, ARGS...]."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run a script or module as ``__main__`` with compat installed; returns the exit status.

    The script sees what ``python SCRIPT ARGS`` would give it: ``sys.argv``,
    its own directory first on ``sys.path``, and ``__name__ == "__main__"``.
    ``SystemExit`` from the script passes through, so its exit code is the
    process's.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_USAGE, file=sys.stderr if not args else sys.stdout)
        return 2 if not args else 0
    install()
    if args[0] == "-m":
        if len(args) < 2:
            print(_USAGE, file=sys.stderr)
            return 2
        sys.argv = [args[1], *args[2:]]
        runpy.run_module(args[1], run_name="__main__", alter_sys=True)
        return 0
    script = args[0]
    if not os.path.exists(script):
        print(f"pxfast.compat: can't open file {script!r}", file=sys.stderr)
        return 2
    sys.argv = [script, *args[1:]]
    script_dir = os.path.dirname(os.path.abspath(script))
    if sys.path and sys.path[0] in ("", os.getcwd()):
        sys.path[0] = script_dir  # what `python SCRIPT` puts first
    else:
        sys.path.insert(0, script_dir)
    runpy.run_path(script, run_name="__main__")
    return 0


if __name__ == "__main__":
    # Run the canonical module's main, not this ``__main__`` copy's: a bot that
    # imports pxfast.compat itself must see the same installed finder.
    from pxfast import compat as _compat

    sys.exit(_compat.main())
