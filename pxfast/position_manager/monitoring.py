"""Position alerts and monitoring.

An alert is checked against every trade print of its contract on the market
hub (a subtraction and a comparison; nothing polls), and once more when it
is added.  When the position's unrealised P&L crosses ``max_loss``,
``max_gain`` or ``pnl_threshold`` (an absolute P&L), ``RISK_LIMIT_WARNING``
is emitted once, with project-x-py's keys (``contract_id``, ``message``,
``position``, ``alert``) plus ``pnl``, ``current_price`` and ``kind``; the
alert then stops listening.  project-x-py only looks at alerts when a
position update arrives, with a point value of 1, and fires any alert on a
size change, which used up the alert before the loss it was set for.

``start_monitoring`` starts a polling task only when there is no live user
stream (then positions and prices are fetched every ``refresh_interval``
seconds); with the stream, everything above is already live.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from decimal import Decimal

from pxfast.event_bus import EventType
from pxfast.exceptions import ProjectXError
from pxfast.position_manager.analytics import PositionAnalytics
from pxfast.realtime_data_manager.listeners import add_print_listener, remove_print_listener

__all__ = ["PositionMonitoring"]

logger = logging.getLogger(__name__)


class PositionMonitoring(PositionAnalytics):
    async def add_position_alert(
        self,
        contract_id: str,
        max_loss: float | None = None,
        max_gain: float | None = None,
        pnl_threshold: float | None = None,
    ) -> None:
        """Alert once when the position's P&L reaches a loss, a gain, or an absolute size.

        ``max_loss`` is a loss in dollars, given negative as in project-x-py
        (its sign is not needed: -500 and 500 both mean a $500 loss).
        """
        if max_loss is None and max_gain is None and pnl_threshold is None:
            raise ValueError("add_position_alert needs max_loss, max_gain or pnl_threshold")
        contract = await self._resolve(contract_id)
        self._alert_point_values[contract] = await self._point_value(contract)
        self.position_alerts[contract] = {
            "max_loss": max_loss,
            "max_gain": max_gain,
            "pnl_threshold": pnl_threshold,
            "created": datetime.now(),
            "triggered": False,
        }
        self._listen(contract)
        price = self._live_price(contract)
        if price is not None:
            self._check_alert(contract, price)

    async def remove_position_alert(self, contract_id: str) -> None:
        contract = await self._resolve(contract_id)
        self.position_alerts.pop(contract, None)
        self._alert_point_values.pop(contract, None)
        self._unlisten(contract)

    def _listen(self, contract: str) -> None:
        if self.realtime is None or contract in self._alert_listeners:
            return

        def on_print(price: float, volume: float) -> None:
            self._check_alert(contract, price)

        self._alert_listeners[contract] = on_print
        add_print_listener(self.realtime.market, contract, on_print)

    def _unlisten(self, contract: str) -> None:
        listener = self._alert_listeners.pop(contract, None)
        if listener is not None and self.realtime is not None:
            remove_print_listener(self.realtime.market, contract, listener)

    def _check_alert(self, contract: str, price: float) -> None:
        alert = self.position_alerts.get(contract)
        position = self._held(contract)
        if alert is None or alert["triggered"] or position is None:
            return
        move = Decimal(str(price)) - Decimal(str(position.averagePrice))
        pnl = move * position.signed_size * self._alert_point_values[contract]
        max_loss, max_gain, threshold = alert["max_loss"], alert["max_gain"], alert["pnl_threshold"]
        kind = message = None
        if max_loss is not None and pnl <= -abs(Decimal(str(max_loss))):
            kind, message = "max_loss", f"breached max loss of {max_loss}"
        elif max_gain is not None and pnl >= Decimal(str(max_gain)):
            kind, message = "max_gain", f"reached max gain of {max_gain}"
        elif threshold is not None and abs(pnl) >= abs(Decimal(str(threshold))):
            kind, message = "pnl_threshold", f"crossed the P&L threshold of {threshold}"
        if kind is None:
            return
        alert["triggered"] = True
        self._unlisten(contract)
        text = f"Position {contract} {message}. Current P&L: {pnl:.2f}"
        logger.warning("POSITION ALERT: %s", text)
        self.event_bus.dispatch(
            EventType.RISK_LIMIT_WARNING,
            {
                "contract_id": contract,
                "message": text,
                "position": position,
                "alert": alert,
                "pnl": float(pnl),
                "current_price": price,
                "kind": kind,
            },
            "PositionManager",
        )

    async def start_monitoring(self, refresh_interval: int = 30) -> None:
        """Mark monitoring active; without a live user stream, poll every ``refresh_interval`` s."""
        if self._monitoring_active:
            logger.warning("Position monitoring already active")
            return
        self._monitoring_active = True
        self.stats["monitoring_started"] = datetime.now()
        if not self._live():
            self._monitoring_task = asyncio.get_running_loop().create_task(
                self._monitoring_loop(refresh_interval), name="pxfast-position-monitor"
            )

    async def stop_monitoring(self) -> None:
        self._monitoring_active = False
        task, self._monitoring_task = self._monitoring_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _monitoring_loop(self, refresh_interval: float) -> None:
        """Polling mode: positions over REST, then each alert against the last bar's close."""
        while self._monitoring_active:
            try:
                await self.refresh_positions()
                for contract, alert in list(self.position_alerts.items()):
                    if alert["triggered"]:
                        continue
                    bars = await self.project_x.get_bars(
                        contract, days=1, interval=1, limit=1, as_numpy=True
                    )
                    if len(bars):
                        self._check_alert(contract, float(bars["close"][-1]))
            except ProjectXError as exc:
                logger.error("position monitoring round failed: %s", exc)
            await asyncio.sleep(refresh_interval)

    async def cleanup(self) -> None:
        await self.stop_monitoring()
        for contract in list(self._alert_listeners):
            self._unlisten(contract)
        self.position_alerts.clear()
        self._alert_point_values.clear()
        await super().cleanup()
