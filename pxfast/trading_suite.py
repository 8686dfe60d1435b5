"""``TradingSuite``: one call that logs in, connects both hubs and builds the managers.

``await TradingSuite.create("MNQ")`` authenticates from the environment,
resolves each instrument to its front-month contract, connects the user and
market hubs (the user hub reconciled before ``create`` returns), subscribes
market data, loads the initial bars, and builds per instrument an
``InstrumentContext`` with its own event bus, ``OrderManager``,
``PositionManager``, ``RealtimeDataManager`` and, with
``features=["risk_manager"]``, a ``RiskManager``.  ``features=["orderbook"]``
raises ``FeatureNotImplementedError`` before any network I/O: pxfast has no
order book yet, and a bot that needs one must stop at ``create``, not at its
first ``suite.orderbook`` call; ``market_depth=True`` subscribes the raw
``MARKET_DEPTH_UPDATE`` events instead.

Each order, position and market event is routed to the context that owns
its contract and reaches the suite bus exactly once (project-x-py delivers a
fill twice on a two-instrument suite).  Endpoints come from ``PROJECTX_*``
environment variables when set, so a bot runs against the simulator with no
code change.
"""

from __future__ import annotations

import importlib
import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from pxfast._redact import redact
from pxfast.client.project_x import ProjectX
from pxfast.config import credentials_from_env, load_default_config
from pxfast.event_bus import Event, EventBus, EventKey, Handler
from pxfast.exceptions import ProjectXError
from pxfast.models import Instrument, Order, OrderPlaceResponse, ProjectXConfig
from pxfast.order_manager import OrderManager, OrderManagerConfig
from pxfast.order_tracker import OrderChainBuilder, OrderTracker
from pxfast.position_manager import PositionManager
from pxfast.realtime.connection import AUDIT_INTERVAL, RealtimeConnection
from pxfast.realtime.hub import HubOptions
from pxfast.realtime.user_stream import RECENT_WINDOW
from pxfast.realtime_data_manager import RealtimeDataManager
from pxfast.risk_manager import ManagedTrade, RiskConfig, RiskManager

__all__ = [
    "FeatureNotImplementedError",
    "Features",
    "InstrumentContext",
    "TradingSuite",
    "TradingSuiteConfig",
]

logger = logging.getLogger(__name__)


class Features(StrEnum):
    ORDERBOOK = "orderbook"
    RISK_MANAGER = "risk_manager"
    TRADE_JOURNAL = "trade_journal"
    PERFORMANCE_ANALYTICS = "performance_analytics"
    AUTO_RECONNECT = "auto_reconnect"


class FeatureNotImplementedError(ProjectXError, NotImplementedError):
    """A ``Features`` flag pxfast does not implement was asked for.

    Raised by ``create`` before any network I/O, so a bot that relies on the
    feature fails at start-up instead of on its first use of ``None``.
    """


#: Flags accepted with no effect, as in project-x-py (a warning says so).
_NO_EFFECT: dict[Features, str] = {
    Features.TRADE_JOURNAL: "project-x-py reserves it and does nothing with it either",
    Features.AUTO_RECONNECT: "the hubs always reconnect",
    Features.PERFORMANCE_ANALYTICS: "project-x-py only sets unused flags for it",
}

#: Flags pxfast refuses: what is missing, and what works instead.
_MISSING: dict[Features, str] = {
    Features.ORDERBOOK: (
        "pxfast has no order book (suite.orderbook, OrderBook analytics); pass "
        "market_depth=True to receive the raw MARKET_DEPTH_UPDATE events, or drop "
        "'orderbook' from features"
    ),
}


@dataclass
class TradingSuiteConfig:
    instrument: str
    timeframes: list[str] = field(default_factory=lambda: ["5min"])
    features: list[Features] = field(default_factory=list)
    initial_days: int = 5
    auto_connect: bool = True
    timezone: str = "America/Chicago"
    order_manager_config: OrderManagerConfig | None = None
    position_manager_config: dict[str, Any] | None = None
    data_manager_config: dict[str, Any] | None = None
    orderbook_config: dict[str, Any] | None = None
    risk_config: RiskConfig | None = None
    #: pxfast: endpoints and client settings (default: PROJECTX_* env, else TopstepX).
    client_config: ProjectXConfig | None = None
    #: pxfast: hub liveness settings (tests shorten them).
    user_hub_options: HubOptions | None = None
    market_hub_options: HubOptions | None = None
    #: pxfast: seconds between user-state audits while orders work (None: never).
    audit_interval: float | None = AUDIT_INTERVAL
    #: pxfast: how far back a reconnect re-reads orders and fills (a timedelta or
    #: seconds); finished orders and fills older than this (plus a margin) are
    #: forgotten.  It must outlast any outage whose fills are to be recovered.
    reconcile_window: timedelta | float = RECENT_WINDOW
    #: pxfast: subscribe market depth and deliver ``MARKET_DEPTH_UPDATE`` events
    #: (without an order book, which pxfast does not have).
    market_depth: bool = False
    #: project-x-py's ``SessionConfig`` (``pxfast.sessions``): the session the data
    #: managers' ``get_session_data`` reads by default.
    session_config: Any = None


_CONFIG_FIELDS = {f.name for f in fields(TradingSuiteConfig)} - {
    "instrument",
    "timeframes",
    "features",
    "session_config",
}


@dataclass(frozen=True)
class InstrumentContext:
    symbol: str
    instrument_info: Instrument
    data: RealtimeDataManager
    orders: OrderManager
    positions: PositionManager
    event_bus: EventBus
    orderbook: Any = None
    risk_manager: RiskManager | None = None

    async def on(self, event: EventKey, handler: Handler) -> None:
        await self.event_bus.on(event, handler)

    async def once(self, event: EventKey, handler: Handler) -> None:
        await self.event_bus.once(event, handler)

    async def off(self, event: EventKey | None = None, handler: Handler | None = None) -> None:
        await self.event_bus.off(event, handler)

    async def wait_for(self, event: EventKey, timeout: float | None = None) -> Event:
        return await self.event_bus.wait_for(event, timeout)


class TradingSuite:
    def __init__(
        self,
        client: ProjectX,
        realtime: RealtimeConnection,
        config: TradingSuiteConfig,
        symbols: list[str],
        events: EventBus,
    ) -> None:
        self.client = client
        self.realtime = realtime
        self.config = config
        self.events = events
        self._symbols = symbols
        self._contexts: dict[str, InstrumentContext] = {}
        self._by_contract: dict[str, EventBus] = {}
        self._connected = False
        self._closed = False
        self.suite_id = f"TradingSuite_{uuid.uuid4().hex[:12]}"
        self._created_at = datetime.now(UTC)
        self._started = time.monotonic()

    # ------------------------------------------------------------------ creation

    @classmethod
    async def create(
        cls,
        instruments: str | list[str] | None = None,
        instrument: str | None = None,
        timeframes: list[str] | None = None,
        features: list[str | Features] | None = None,
        session_config: Any = None,
        **kwargs: Any,
    ) -> TradingSuite:
        """Log in, connect, and build a context per instrument (see the module docstring)."""
        if instruments is None and instrument is None:
            raise ValueError("TradingSuite.create needs instruments (or instrument=)")
        symbols = [instruments] if isinstance(instruments, str) else list(instruments or [])
        if instrument is not None and instrument not in symbols:
            symbols.insert(0, instrument)
        username = kwargs.pop("username", None)
        api_key = kwargs.pop("api_key", None)
        account_name = kwargs.pop("account_name", None)
        if (username is None) != (api_key is None):
            raise ValueError("Give both username and api_key, or neither")
        unknown = set(kwargs) - _CONFIG_FIELDS
        if unknown:
            raise TypeError(f"TradingSuite.create got unexpected arguments: {sorted(unknown)}")
        if session_config is not None:
            from pxfast.sessions import SessionConfig  # polars: imported only when used

            if not isinstance(session_config, SessionConfig):
                raise TypeError(
                    "session_config must be a pxfast.sessions.SessionConfig, "
                    f"not {type(session_config).__name__}"
                )
        resolved = [Features(f) for f in (features or [])]
        for flag in resolved:
            missing = _MISSING.get(flag)
            if missing is not None:
                raise FeatureNotImplementedError(
                    f"feature {flag.value!r} is not available: {missing}"
                )
            why = _NO_EFFECT.get(flag)
            if why is not None:
                logger.warning("feature %s has no effect (%s)", flag.value, why)
        config = TradingSuiteConfig(
            instrument=symbols[0],
            timeframes=timeframes or ["5min"],
            features=resolved,
            session_config=session_config,
            **kwargs,
        )
        if username is None:
            creds = credentials_from_env(account_name)
            username, api_key, account_name = creds.username, creds.api_key, creds.account_name
        client_config = config.client_config or load_default_config()
        client = ProjectX(username, api_key, client_config, account_name)
        events = EventBus()
        realtime = RealtimeConnection(
            client,
            events=events,
            user_options=config.user_hub_options,
            market_options=config.market_hub_options,
            audit_interval=config.audit_interval,
            reconcile_window=config.reconcile_window,
        )
        suite = cls(client, realtime, config, symbols, events)
        realtime.user._route = suite._route
        realtime.market._route = suite._route
        if config.auto_connect:
            try:
                await suite.connect()
            except BaseException:
                await suite.disconnect()
                raise
        return suite

    def _route(self, contract_id: str | None) -> EventBus:
        if contract_id is None:
            return self.events
        return self._by_contract.get(contract_id, self.events)

    async def connect(self) -> None:
        """Authenticate, connect the hubs, and build the instrument contexts."""
        if self._connected:
            return
        client = self.client
        config = self.config
        await client.authenticate()
        infos = [await client.get_instrument(symbol) for symbol in self._symbols]
        risk_on = Features.RISK_MANAGER in config.features
        for symbol, info in zip(self._symbols, infos, strict=True):
            bus = EventBus()
            await bus.forward_to(self.events)
            self._by_contract[info.id] = bus
            om_config: OrderManagerConfig = {
                "enable_bracket_orders": True,
                "auto_risk_management": risk_on,
                **(config.order_manager_config or {}),
            }
            orders = OrderManager(client, bus, om_config)
            orders.default_contract_id = info.id
            positions = PositionManager(client, bus, config=config.position_manager_config)
            data = RealtimeDataManager(
                info,
                client,
                self.realtime,
                bus,
                config.timeframes,
                config.timezone,
                config.data_manager_config,
                config.session_config,
            )
            risk = None
            if risk_on:
                risk = RiskManager(client, orders, bus, positions, config.risk_config, data)
                orders.risk_manager = risk
                positions.risk_manager = risk
            self._contexts[symbol] = InstrumentContext(
                symbol, info, data, orders, positions, bus, None, risk
            )
        await self.realtime.connect()
        for context in self._contexts.values():
            await context.orders.initialize(self.realtime)
            await context.positions.initialize(self.realtime, context.orders)
            if context.risk_manager is not None:
                await context.risk_manager.initialize()
            # Prints are taken (held until the bars are seeded) before the contract is
            # subscribed, and the history is read after: no print falls between the two.
            await context.data.start_realtime_feed()
        await self.realtime.subscribe_market([info.id for info in infos], depth=config.market_depth)
        for context in self._contexts.values():
            await context.data.initialize(config.initial_days)
        self._connected = True

    async def disconnect(self) -> None:
        """Close hubs, managers and the HTTP pool; safe to call twice or after a failed create."""
        if self._closed:
            return
        self._closed = True
        self._connected = False
        await self.realtime.disconnect()
        for context in self._contexts.values():
            await context.data.cleanup()
            await context.orders.cleanup()
            await context.positions.cleanup()
            if context.risk_manager is not None:
                await context.risk_manager.cleanup()
        await self.client.close()

    async def __aenter__(self) -> TradingSuite:
        if not self._connected:
            await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.disconnect()

    # ------------------------------------------------------------------ access

    def _single(self) -> InstrumentContext:
        if len(self._contexts) != 1:
            names = ", ".join(self._contexts)
            raise AttributeError(
                f"this suite trades several instruments ({names}); use suite['SYMBOL'].orders etc."
            )
        return next(iter(self._contexts.values()))

    def __getitem__(self, symbol: str) -> InstrumentContext:
        return self._contexts[symbol]

    def __len__(self) -> int:
        return len(self._contexts)

    def __iter__(self) -> Iterator[str]:
        return iter(self._contexts)

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._contexts

    def keys(self) -> list[str]:
        return list(self._contexts)

    def values(self) -> list[InstrumentContext]:
        return list(self._contexts.values())

    def items(self) -> list[tuple[str, InstrumentContext]]:
        return list(self._contexts.items())

    @property
    def orders(self) -> OrderManager:
        return self._single().orders

    @property
    def positions(self) -> PositionManager:
        return self._single().positions

    @property
    def data(self) -> RealtimeDataManager:
        return self._single().data

    @property
    def risk_manager(self) -> RiskManager | None:
        return self._single().risk_manager

    @property
    def orderbook(self) -> Any:
        return self._single().orderbook

    @property
    def instrument_info(self) -> Instrument:
        return self._single().instrument_info

    @property
    def instrument(self) -> Instrument:
        return self._single().instrument_info

    @property
    def instrument_id(self) -> str:
        return self._single().instrument_info.id

    @property
    def symbol(self) -> str:
        return self._single().symbol

    @property
    def is_connected(self) -> bool:
        return self._connected and self.realtime.user_hub.connected

    # ------------------------------------------------------------------ events

    async def on(self, event: EventKey, handler: Handler) -> None:
        await self.events.on(event, handler)

    async def once(self, event: EventKey, handler: Handler) -> None:
        await self.events.once(event, handler)

    async def off(self, event: EventKey | None = None, handler: Handler | None = None) -> None:
        await self.events.off(event, handler)

    async def wait_for(self, event: EventKey, timeout: float | None = None) -> Event:
        return await self.events.wait_for(event, timeout)

    # ------------------------------------------------------------------ health

    def get_health(self) -> dict[str, Any]:
        """Per-hub state, message ages, reconnects, gaps, decode errors, rate-budget use."""
        return self.realtime.health()

    async def get_stats(self) -> dict[str, Any]:
        """project-x-py's ``TradingSuiteStats`` keys, filled only with what pxfast measures.

        A key pxfast does not measure is None, never a made-up number:
        ``successful_api_calls``, ``failed_api_calls``, ``avg_response_time_ms``,
        ``cache_hit_rate``, ``memory_usage_mb`` and ``message_queue_size``;
        ``components`` is empty and ``health_score`` absent (pxfast reports facts,
        not scores).  ``total_api_calls`` counts REST requests sent, retries
        included; ``active_subscriptions`` counts the contracts subscribed on the
        market hub.  pxfast adds ``health`` (``get_health()``) and per-symbol
        ``orders`` statistics.
        """
        health = self.get_health()
        hubs = health["hubs"]
        rest = health["rest"]
        return {
            "suite_id": self.suite_id,
            "instrument": self.config.instrument,
            "created_at": self._created_at.isoformat(),
            "uptime_seconds": int(time.monotonic() - self._started),
            "status": "active" if self.is_connected else "disconnected",
            "connected": self.is_connected,
            "components": {},
            "realtime_connected": hubs["user"]["connected"] and hubs["market"]["connected"],
            "user_hub_connected": hubs["user"]["connected"],
            "market_hub_connected": hubs["market"]["connected"],
            "total_api_calls": rest["requests"],
            "successful_api_calls": None,
            "failed_api_calls": None,
            "avg_response_time_ms": None,
            "cache_hit_rate": None,
            "memory_usage_mb": None,
            "active_subscriptions": len(self._by_contract) if self._connected else 0,
            "message_queue_size": None,
            "features_enabled": [flag.value for flag in self.config.features],
            "timeframes": list(self.config.timeframes),
            "health": health,
            "orders": {
                symbol: await context.orders.get_order_statistics_async()
                for symbol, context in self._contexts.items()
            },
        }

    async def export_stats(
        self, export_format: str = "json", pretty: bool = False, include_timestamp: bool = True
    ) -> str:
        """``get_stats()`` as JSON, as project-x-py's ``export_stats("json")`` gives it.

        project-x-py also writes Prometheus, CSV and Datadog; pxfast does not,
        and says so with the ValueError project-x-py raises for an unknown
        format.  The text is passed through the credential redactor: hub
        errors quoted in ``health`` come from the network.
        """
        if export_format.lower() != "json":
            raise ValueError(
                f"Unsupported export format: {export_format!r}; pxfast exports stats as "
                "'json' only (project-x-py's prometheus, csv and datadog are not implemented)"
            )
        data = await self.get_stats()
        if include_timestamp:
            data["export_timestamp"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        return redact(json.dumps(data, indent=2 if pretty else None, default=str))

    async def set_session_type(self, session_type: Any) -> None:
        """Make ``session_type`` (a ``pxfast.sessions.SessionType``) every instrument's default."""
        for context in self._contexts.values():
            await context.data.set_session_type(session_type)

    async def get_session_data(
        self, timeframe: str, session_type: Any = None, *, timeout: float | None = None
    ) -> Any:
        """The session's bars of ``timeframe``: a frame (or None) on a one-instrument suite,
        else ``{symbol: frame or None}`` (None when the suite has no instrument), as in
        project-x-py."""
        if len(self._contexts) == 1:
            return await self.data.get_session_data(timeframe, session_type, timeout=timeout)
        result = {
            symbol: await context.data.get_session_data(timeframe, session_type, timeout=timeout)
            for symbol, context in self._contexts.items()
        }
        return result or None

    async def get_session_statistics(self, timeframe: str = "1min") -> dict[str, Any]:
        """RTH/ETH statistics of ``timeframe``; per symbol on a multi-instrument suite."""
        if len(self._contexts) == 1:
            return await self.data.get_session_statistics(timeframe)
        return {
            symbol: await context.data.get_session_statistics(timeframe)
            for symbol, context in self._contexts.items()
        }

    # ------------------------------------------------------------------ helpers (project-x-py's)

    def track_order(self, order: Order | OrderPlaceResponse | int | None = None) -> OrderTracker:
        """An ``OrderTracker`` for ``order`` (or for one given later with ``tracker.track``)."""
        return OrderTracker(self, order)

    def order_chain(self) -> OrderChainBuilder:
        """A fluent entry + stop + target builder placed as one bracket."""
        return OrderChainBuilder(self)

    def managed_trade(
        self, max_risk_percent: float | None = None, max_risk_amount: float | None = None
    ) -> ManagedTrade:
        """A risk-managed trade on this suite's instrument; ValueError without the risk manager."""
        risk = self.risk_manager
        if risk is None:
            raise ValueError("Risk manager not enabled. Add 'risk_manager' to features list.")
        return ManagedTrade(
            risk,
            self.orders,
            self.positions,
            self.instrument_id,
            data_manager=self.data,
            event_bus=self.events,
            max_risk_percent=max_risk_percent,
            max_risk_amount=max_risk_amount,
        )

    @classmethod
    async def from_config(cls, config_path: str | Path, **overrides: Any) -> TradingSuite:
        """Create from a .json, .yaml or .yml file whose keys are ``create`` arguments.

        ``overrides`` win over the file.  YAML needs PyYAML, which pxfast does
        not depend on; without it a .yaml file raises ImportError saying so.
        """
        return await cls.create(**{**cls._read_config(Path(config_path)), **overrides})

    @staticmethod
    def _read_config(file: Path) -> dict[str, Any]:
        suffix = file.suffix.lower()
        if suffix not in (".yaml", ".yml", ".json"):
            raise ValueError(f"Unsupported config format: {file.suffix}")
        if not file.exists():
            raise FileNotFoundError(f"Configuration file not found: {file}")
        text = file.read_text()
        if suffix == ".json":
            data = json.loads(text)
        else:
            try:
                yaml = importlib.import_module("yaml")
            except ModuleNotFoundError:
                raise ImportError(
                    f"Reading {file.name} needs PyYAML (pip install pyyaml); "
                    "or write the configuration as .json"
                ) from None
            data = yaml.safe_load(text)
        if not isinstance(data, dict):
            raise ValueError(f"{file}: expected a mapping of TradingSuite.create arguments")
        return data

    @classmethod
    async def from_env(cls, instrument: str, **kwargs: Any) -> TradingSuite:
        """Create with credentials (and ``PROJECTX_*`` endpoints) from the environment."""
        return await cls.create(instrument, **kwargs)
