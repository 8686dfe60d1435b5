"""project-x-py's configuration TypedDicts, key for key (``project_x_py.types.config_types``).

Bots annotate the dicts they pass to ``TradingSuite.create`` with these; they
are types only.  pxfast reads the keys its managers implement and ignores the
rest, as project-x-py ignores its own unused ones.  The same names are
exported from ``pxfast.types`` (and ``PositionManagerConfig`` from ``pxfast``),
the paths project-x-py has them at.  No ``from __future__ import annotations``:
a TypedDict needs its ``Required[...]`` markers evaluated to know them.
"""

from dataclasses import dataclass
from typing import Any, Literal, Required, TypedDict

__all__ = [
    "BacktestConfig",
    "CacheConfig",
    "DataManagerConfig",
    "EnvironmentConfig",
    "FeatureConfig",
    "HTTPConfig",
    "IndicatorConfig",
    "LoggingConfig",
    "MemoryManagementConfig",
    "OrderManagerConfig",
    "OrderbookConfig",
    "PositionManagerConfig",
    "ProjectXSDKConfig",
    "RateLimitConfig",
    "RealtimeConfig",
    "RiskConfig",
    "TradingSuiteConfig",
    "WebSocketConfig",
]


class TradingSuiteConfig(TypedDict, total=False):
    features: list[str]
    timeframes: list[str]
    initial_days: int
    auto_connect: bool
    enable_logging: bool
    log_level: str
    performance_mode: bool


class FeatureConfig(TypedDict, total=False):
    orderbook: bool
    realtime_tracking: bool
    risk_management: bool
    portfolio_analytics: bool
    pattern_detection: bool
    advanced_orders: bool
    market_scanner: bool
    backtesting: bool


class OrderManagerConfig(TypedDict, total=False):
    enable_bracket_orders: bool
    enable_trailing_stops: bool
    auto_risk_management: bool
    max_order_size: int
    max_orders_per_minute: int
    default_order_type: str
    enable_order_validation: bool
    require_confirmation: bool
    auto_cancel_on_close: bool
    order_timeout_minutes: int
    status_check_max_attempts: int
    status_check_initial_delay: float
    status_check_backoff_factor: float
    status_check_max_delay: float
    status_check_circuit_breaker_threshold: int
    status_check_circuit_breaker_reset_time: float


class PositionManagerConfig(TypedDict, total=False):
    enable_risk_monitoring: bool
    auto_stop_loss: bool
    auto_take_profit: bool
    max_position_size: int
    max_portfolio_risk: float
    position_sizing_method: str
    enable_correlation_analysis: bool
    enable_portfolio_rebalancing: bool
    rebalance_frequency_minutes: int
    risk_calculation_interval: int


class DataManagerConfig(TypedDict, total=False):
    max_bars_per_timeframe: int
    enable_tick_data: bool
    enable_level2_data: bool
    buffer_size: int
    compression_enabled: bool
    data_validation: bool
    auto_cleanup: bool
    cleanup_interval_minutes: int
    historical_data_cache: bool
    cache_expiry_hours: int
    timezone: str
    initial_days: int
    data_lock_timeout: float
    session_data_timeout: float
    enable_dynamic_limits: bool
    resource_config: dict[str, Any]


class OrderbookConfig(TypedDict, total=False):
    max_depth_levels: int
    max_trade_history: int
    enable_market_by_order: bool
    enable_analytics: bool
    enable_pattern_detection: bool
    snapshot_interval_seconds: int
    memory_limit_mb: int
    compression_level: int
    enable_delta_updates: bool
    price_precision: int


class RealtimeConfig(TypedDict, total=False):
    reconnect_attempts: int
    reconnect_delay_seconds: float
    heartbeat_interval_seconds: int
    message_timeout_seconds: int
    enable_compression: bool
    buffer_size: int
    max_message_size: int
    ping_interval_seconds: int
    connection_timeout_seconds: int
    keep_alive: bool


class WebSocketConfig(TypedDict, total=False):
    url: Required[str]
    protocols: list[str]
    headers: dict[str, str]
    compression: str
    max_size: int
    max_queue: int
    ping_interval: float
    ping_timeout: float
    close_timeout: float
    user_agent_header: str


class HTTPConfig(TypedDict, total=False):
    base_url: Required[str]
    timeout_seconds: int
    max_retries: int
    retry_delay_seconds: float
    verify_ssl: bool
    follow_redirects: bool
    max_redirects: int
    connection_pool_size: int
    keep_alive: bool
    headers: dict[str, str]


class CacheConfig(TypedDict, total=False):
    enabled: bool
    max_size: int
    ttl_seconds: int
    cleanup_interval: int
    persistence: bool
    compression: bool
    memory_limit_mb: int
    eviction_policy: str


class RateLimitConfig(TypedDict, total=False):
    requests_per_minute: int
    burst_limit: int
    backoff_strategy: str
    max_backoff_seconds: float
    enable_jitter: bool
    track_by_endpoint: bool
    global_limit: bool
    per_connection_limit: int


@dataclass
class MemoryManagementConfig:
    """A dataclass, not a TypedDict, in project-x-py too; pxfast reads none of it."""

    max_memory_mb: int = 512
    gc_threshold: float = 0.8
    cleanup_interval_seconds: int = 300
    enable_memory_monitoring: bool = True
    memory_alerts: bool = True
    alert_threshold_mb: int = 400
    auto_optimize: bool = True
    debug_memory_usage: bool = False


class IndicatorConfig(TypedDict, total=False):
    cache_results: bool
    parallel_calculation: bool
    precision: int
    smoothing_factor: float
    lookback_periods: int
    enable_volume_indicators: bool
    enable_momentum_indicators: bool
    enable_volatility_indicators: bool
    custom_periods: dict[str, int]


class RiskConfig(TypedDict, total=False):
    var_confidence_level: float
    lookback_days: int
    monte_carlo_simulations: int
    stress_test_scenarios: list[str]
    correlation_threshold: float
    max_correlation: float
    enable_scenario_analysis: bool
    risk_calculation_frequency: str


class BacktestConfig(TypedDict, total=False):
    start_date: Required[str]
    end_date: Required[str]
    initial_capital: Required[float]
    commission_per_trade: Required[float]
    slippage_bps: Required[int]
    benchmark: str
    rebalance_frequency: str
    enable_short_selling: bool
    max_leverage: float
    margin_requirement: float


class LoggingConfig(TypedDict, total=False):
    level: Required[str]
    format: str
    handlers: list[str]
    file_path: str
    max_file_size_mb: int
    backup_count: int
    enable_structured_logging: bool
    include_timestamps: bool
    include_thread_info: bool
    log_performance_metrics: bool


class EnvironmentConfig(TypedDict, total=False):
    environment: Required[Literal["development", "staging", "production"]]
    debug_mode: bool
    verbose_logging: bool
    enable_profiling: bool
    mock_external_services: bool
    test_mode: bool
    feature_flags: dict[str, bool]
    external_service_urls: dict[str, str]


class ProjectXSDKConfig(TypedDict, total=False):
    environment: EnvironmentConfig
    logging: LoggingConfig
    trading_suite: TradingSuiteConfig
    order_manager: OrderManagerConfig
    position_manager: PositionManagerConfig
    data_manager: DataManagerConfig
    orderbook: OrderbookConfig
    realtime: RealtimeConfig
    websocket: WebSocketConfig
    http: HTTPConfig
    cache: CacheConfig
    rate_limit: RateLimitConfig
    memory: dict[str, Any]
    indicators: IndicatorConfig
    risk: RiskConfig
    backtest: BacktestConfig
