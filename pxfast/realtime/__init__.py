"""Realtime: the SignalR hubs, their state and project-x-py's ``ProjectXRealtimeClient``."""

from pxfast.realtime.client import ProjectXRealtimeClient
from pxfast.realtime.connection import RealtimeConnection
from pxfast.realtime.hub import HubConnection, HubOptions, HubState

__all__ = [
    "HubConnection",
    "HubOptions",
    "HubState",
    "ProjectXRealtimeClient",
    "RealtimeConnection",
]
