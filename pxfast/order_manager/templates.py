"""The guide's import path for templates: ``order_manager.templates.OrderTemplate``.

The same class object as ``pxfast.order_templates.OrderTemplate``.
"""

from pxfast.order_templates import OrderTemplate

__all__ = ["OrderTemplate"]
