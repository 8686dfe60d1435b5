"""The embedded ProjectX Gateway simulator: REST, both SignalR hubs and a matching engine.

``async with GatewaySimulator(seed=1) as gw:`` serves the Gateway on
127.0.0.1 (``gw.api_url``, ``gw.user_hub_url``, ``gw.market_hub_url``);
``pxfast sim`` runs it standalone.  See ``simulator.py`` for the control and
fault API, and gateway-protocol.md for the behaviour it reproduces.
"""

from pxfast.sim.config import SimConfig
from pxfast.sim.simulator import AccountState, GatewaySimulator

__all__ = ["AccountState", "GatewaySimulator", "SimConfig"]
