"""The Gateway REST client."""

from pxfast.client.gateway import GatewaySession
from pxfast.client.project_x import ProjectX

__all__ = ["GatewaySession", "ProjectX"]
