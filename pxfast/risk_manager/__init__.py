"""Risk management: ``RiskConfig``, ``RiskManager`` and the ``ManagedTrade`` context.

With ``features=["risk_manager"]`` every entry order is checked against the
rules before it is sent (``RiskManager.validate_trade``); sizing, protective
orders, trailing stops and the daily counters live in ``RiskManager``, and
``suite.managed_trade()`` runs one trade from sizing to exit.
"""

from pxfast.risk_manager.config import RiskConfig
from pxfast.risk_manager.core import RiskManager
from pxfast.risk_manager.managed_trade import ManagedTrade

__all__ = ["ManagedTrade", "RiskConfig", "RiskManager"]
