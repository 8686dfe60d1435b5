"""``PositionManager``: live positions, closing them, P&L, alerts and reports.

Positions come from the user hub (reconciled by the fence), money is
computed by tick value, and alerts are checked on market-hub prints; see
``core``, ``analytics``, ``monitoring`` and ``reporting``.
"""

from __future__ import annotations

import warnings
from typing import Any

from pxfast.event_bus import EventType
from pxfast.position_manager.reporting import PositionReporting

__all__ = ["PositionManager"]

_LEGACY_CALLBACKS = {
    "position_opened": EventType.POSITION_OPENED,
    "position_closed": EventType.POSITION_CLOSED,
    "position_update": EventType.POSITION_UPDATED,
    "position_pnl_update": EventType.POSITION_PNL_UPDATE,
    "position_alert": EventType.RISK_LIMIT_WARNING,
}


class PositionManager(PositionReporting):
    """Everything project-x-py's PositionManager does, computed from the Gateway's own reports."""

    async def add_callback(self, event_type: str, callback: Any) -> None:
        """Deprecated project-x-py API: register ``callback`` for a position event name."""
        warnings.warn(
            "PositionManager.add_callback is deprecated; use suite.on(EventType...)",
            DeprecationWarning,
            stacklevel=2,
        )
        event = _LEGACY_CALLBACKS.get(event_type)
        if event is None:
            raise ValueError(f"Unknown event type: {event_type}")
        await self.event_bus.on(event, callback)
