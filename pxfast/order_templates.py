"""Order templates: the guide's declarative ``OrderTemplate`` and project-x-py's template base.

In project-x-py ``OrderTemplate`` is an abstract base whose subclasses
(``RiskRewardTemplate`` ...) implement ``create_order``.  The guide constructs
it directly with fields (``OrderTemplate(name=..., order_type="bracket", side=0,
size=2, entry_offset=..., stop_offset=..., target_offset=...)``) and places it
with ``suite.orders.place_from_template``.  One class serves both: every field
has a default, and the default ``create_order`` places the template; real
subclasses override ``__init__`` and ``create_order`` and see no difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pxfast.models import BracketOrderResponse, OrderPlaceResponse

__all__ = ["TEMPLATE_ORDER_TYPES", "OrderTemplate"]

TEMPLATE_ORDER_TYPES = ("bracket", "market", "limit", "stop")


@dataclass
class OrderTemplate:
    """A reusable order shape; offsets are price points from a reference price."""

    name: str = "template"
    order_type: str = "bracket"
    side: int = 0
    size: int = 1
    entry_offset: Decimal | float | int | None = None
    stop_offset: Decimal | float | int | None = None
    target_offset: Decimal | float | int | None = None
    time_in_force: str | None = None

    def __post_init__(self) -> None:
        kind = self.order_type.lower() if isinstance(self.order_type, str) else self.order_type
        if kind not in TEMPLATE_ORDER_TYPES:
            raise ValueError(
                f"OrderTemplate {self.name!r}: order_type must be one of {TEMPLATE_ORDER_TYPES}, "
                f"got {self.order_type!r}"
            )
        self.order_type = kind

    async def create_order(
        self, suite: Any, side: int | None = None, size: int | None = None, **kwargs: Any
    ) -> BracketOrderResponse | OrderPlaceResponse:
        """Place this template through ``suite.orders`` (side and size may be overridden)."""
        template = self
        if side is not None or size is not None:
            from dataclasses import replace

            template = replace(
                self,
                side=self.side if side is None else side,
                size=self.size if size is None else size,
            )
        return await suite.orders.place_from_template(  # type: ignore[no-any-return]
            template, kwargs.get("contract_id"), kwargs.get("reference_price")
        )
