"""Order templates: the guide's declarative ``OrderTemplate`` and project-x-py's templates.

In project-x-py ``OrderTemplate`` is an abstract base whose subclasses
(``RiskRewardTemplate`` ...) implement ``create_order``.  The guide constructs
it directly with fields (``OrderTemplate(name=..., order_type="bracket", side=0,
size=2, entry_offset=..., stop_offset=..., target_offset=...)``) and places it
with ``suite.orders.place_from_template``.  One class serves both: every field
has a default, and the default ``create_order`` places the template; the
project-x-py templates below override ``__init__`` and ``create_order`` and
compute their prices at placement time.

Prices and distances are Decimals from the price's shortest repr, and sizes
come from the tick count the Gateway will actually use, so a template risks
what it says.  ``BreakoutTemplate`` works here: its stop entry is a native
bracket (project-x-py 4.4.1 rejects ``entry_type="stop"``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

from pxfast.order_tracker import OrderChainBuilder
from pxfast.types.trading import OrderSide

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from pxfast.models import BracketOrderResponse, OrderPlaceResponse

__all__ = [
    "TEMPLATES",
    "TEMPLATE_ORDER_TYPES",
    "ATRStopTemplate",
    "BreakoutTemplate",
    "OrderTemplate",
    "RiskRewardTemplate",
    "ScalpingTemplate",
    "average_true_range",
    "get_template",
]

logger = logging.getLogger(__name__)

Number = Decimal | float | int

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


# ---------------------------------------------------------------------- project-x-py's templates


class _ComputedTemplate(OrderTemplate):
    """Base of project-x-py's templates: their own parameters, prices computed at placement.

    They skip the dataclass ``__init__`` (the guide's fields keep their class
    defaults), so they compare by identity and show their own parameters,
    as project-x-py's plain-object templates do.
    """

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        params = ", ".join(f"{key}={value!r}" for key, value in vars(self).items())
        return f"{type(self).__name__}({params})"


def _side(side: int | None) -> int:
    if side is None:
        raise ValueError("side is required (0 = BUY, 1 = SELL)")
    return side


def _size(size: int | None) -> int:
    if size is None:
        raise ValueError("Size is required")
    return size


async def _current_price(suite: Any) -> Decimal:
    price = await suite.data.get_current_price()
    if not price:
        raise ValueError("Cannot get current price")
    return Decimal(str(price))


def _whole_ticks(distance: Decimal, suite: Any) -> Decimal:
    """A bracket distance rounded to whole ticks (half-even, at least one), as the Gateway uses it.

    Computed distances (1% of a price, an ATR) carry many digits; rounding
    them here makes the size, the response and the legs agree on one number.
    """
    tick = Decimal(str(suite.instrument.tickSize))
    return max(Decimal(1), (distance / tick).quantize(Decimal(1), ROUND_HALF_EVEN)) * tick


def _size_for_risk(
    suite: Any, stop_distance: Decimal, risk_amount: Number | None, risk_percent: Number | None
) -> int:
    """Whole contracts whose loss at the stop (whole ticks) stays within the risk."""
    if risk_amount:
        risk = Decimal(str(risk_amount))
    elif risk_percent:
        account = suite.client.account_info
        if account is None:
            raise ValueError("No account information available")
        risk = Decimal(str(float(account.balance))) * Decimal(str(risk_percent))
    else:
        raise ValueError("Must provide size, risk_amount, or risk_percent")
    instrument = suite.instrument
    ticks = stop_distance / Decimal(str(instrument.tickSize))
    per_contract = ticks * Decimal(str(instrument.tickValue))
    size = int(risk // per_contract)
    if size < 1:
        raise ValueError(
            f"Risk {risk} does not cover one contract: a stop {ticks} ticks away "
            f"risks {per_contract} per contract"
        )
    return size


def _entry_around(current: Decimal, side: int, offset: Number) -> Decimal:
    """A limit entry ``offset`` points on the better side of ``current``."""
    step = Decimal(str(offset))
    return current - step if side == OrderSide.BUY else current + step


def average_true_range(
    high: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    close: npt.NDArray[np.float64],
    period: int,
) -> float:
    """The last ATR, as project-x-py computes it.

    True range is the largest of high-low, |high-previous close| and
    |low-previous close| (just high-low on the first bar); the average is
    Wilder's: an exponential mean with alpha 1/period seeded with the first
    true range.
    """
    if len(close) < 2 or period < 1:
        raise ValueError("ATR needs at least two bars and a period of at least 1")
    import numpy as np  # only ATR templates need it: not loaded at `import pxfast`

    previous = close[:-1]
    true_range = np.empty(len(close))
    true_range[0] = high[0] - low[0]
    true_range[1:] = np.maximum.reduce(
        [high[1:] - low[1:], np.abs(high[1:] - previous), np.abs(low[1:] - previous)]
    )
    alpha = 1.0 / period
    atr = float(true_range[0])
    for value in true_range[1:]:
        atr += alpha * (float(value) - atr)
    return atr


class RiskRewardTemplate(_ComputedTemplate):
    """A bracket whose target is ``risk_reward_ratio`` times the stop distance."""

    def __init__(
        self,
        risk_reward_ratio: float = 2.0,
        stop_distance: float | None = None,
        use_limit_entry: bool = True,
    ) -> None:
        self.risk_reward_ratio = risk_reward_ratio
        self.stop_distance = stop_distance
        self.use_limit_entry = use_limit_entry

    async def create_order(
        self,
        suite: Any,
        side: int | None = None,
        size: int | None = None,
        risk_amount: float | None = None,
        risk_percent: float | None = None,
        entry_offset: float = 0,
        **kwargs: Any,
    ) -> BracketOrderResponse:
        """Stop ``stop_distance`` points away (default: 1% of the price); size from risk if None."""
        side = _side(side)
        current = await _current_price(suite)
        distance = (
            Decimal(str(self.stop_distance)) if self.stop_distance else current * Decimal("0.01")
        )
        stop_distance = _whole_ticks(distance, suite)
        target_distance = _whole_ticks(distance * Decimal(str(self.risk_reward_ratio)), suite)
        if size is None:
            size = _size_for_risk(suite, stop_distance, risk_amount, risk_percent)
        builder = OrderChainBuilder(suite)
        if self.use_limit_entry:
            builder.limit_order(size, _entry_around(current, side, entry_offset), side)
        else:
            builder.market_order(size, side)
        builder.with_stop_loss(offset=stop_distance).with_take_profit(offset=target_distance)
        return await builder.execute()


class ATRStopTemplate(_ComputedTemplate):
    """A bracket with the stop ``atr_multiplier`` ATRs away and the target a multiple of that."""

    def __init__(
        self,
        atr_multiplier: float = 2.0,
        atr_period: int = 14,
        target_multiplier: float = 3.0,
        timeframe: str = "5min",
    ) -> None:
        self.atr_multiplier = atr_multiplier
        self.atr_period = atr_period
        self.target_multiplier = target_multiplier
        self.timeframe = timeframe

    async def create_order(
        self,
        suite: Any,
        side: int | None = None,
        size: int | None = None,
        use_limit_entry: bool = False,
        entry_offset: float = 0,
        **kwargs: Any,
    ) -> BracketOrderResponse:
        """ATR over the last ``atr_period + 1`` bars of ``timeframe`` (the forming one included)."""
        side = _side(side)
        data = await suite.data.get_data(self.timeframe, bars=self.atr_period + 1, as_numpy=True)
        if data is None or len(data) < max(2, self.atr_period):
            raise ValueError("Insufficient data for ATR calculation")
        atr = average_true_range(data["high"], data["low"], data["close"], self.atr_period)
        distance = Decimal(str(atr)) * Decimal(str(self.atr_multiplier))
        stop_distance = _whole_ticks(distance, suite)
        target_distance = _whole_ticks(distance * Decimal(str(self.target_multiplier)), suite)
        logger.info("ATR order: ATR=%s stop=%s target=%s", atr, stop_distance, target_distance)
        builder = OrderChainBuilder(suite)
        if use_limit_entry:
            current = await _current_price(suite)
            builder.limit_order(_size(size), _entry_around(current, side, entry_offset), side)
        else:
            builder.market_order(_size(size), side)
        builder.with_stop_loss(offset=stop_distance).with_take_profit(offset=target_distance)
        return await builder.execute()


class BreakoutTemplate(_ComputedTemplate):
    """A stop entry ``breakout_offset`` beyond a level, stop at (or a range beyond) the level."""

    def __init__(
        self,
        breakout_offset: float = 2.0,
        stop_at_level: bool = True,
        target_range_multiplier: float = 1.5,
    ) -> None:
        self.breakout_offset = breakout_offset
        self.stop_at_level = stop_at_level
        self.target_range_multiplier = target_range_multiplier

    async def create_order(
        self,
        suite: Any,
        side: int | None = None,
        size: int | None = None,
        breakout_level: float | None = None,
        range_size: float | None = None,
        lookback_bars: int = 20,
        *,
        timeframe: str = "5min",
        **kwargs: Any,
    ) -> BracketOrderResponse:
        """Without a level, the high (BUY) or low (SELL) of the last ``lookback_bars`` bars."""
        side = _side(side)
        size = _size(size)
        if breakout_level is None:
            stats = await suite.data.get_price_range(bars=lookback_bars, timeframe=timeframe)
            if not stats:
                raise ValueError("Cannot calculate price range")
            breakout_level = stats["high"] if side == OrderSide.BUY else stats["low"]
            if range_size is None:
                range_size = stats["range"]
        if range_size is None:
            raise ValueError("Range size is required")
        level = Decimal(str(breakout_level))
        width = Decimal(str(range_size))
        direction = 1 if side == OrderSide.BUY else -1
        entry = level + direction * Decimal(str(self.breakout_offset))
        stop = level if self.stop_at_level else level - direction * width
        target = entry + direction * width * Decimal(str(self.target_range_multiplier))
        logger.info(
            "Breakout order: level=%s entry=%s stop=%s target=%s", level, entry, stop, target
        )
        builder = OrderChainBuilder(suite).stop_order(size, entry, side)
        builder.with_stop_loss(price=stop).with_take_profit(price=target)
        return await builder.execute()


class ScalpingTemplate(_ComputedTemplate):
    """A tight bracket in ticks; refuses to enter when the spread is wider than allowed."""

    def __init__(
        self,
        stop_ticks: int = 4,
        target_ticks: int = 8,
        use_market_entry: bool = True,
        max_spread_ticks: int = 2,
    ) -> None:
        self.stop_ticks = stop_ticks
        self.target_ticks = target_ticks
        self.use_market_entry = use_market_entry
        self.max_spread_ticks = max_spread_ticks

    async def create_order(
        self,
        suite: Any,
        side: int | None = None,
        size: int | None = None,
        check_spread: bool = True,
        **kwargs: Any,
    ) -> BracketOrderResponse:
        """The spread comes from the live quote (project-x-py reads it from the order book)."""
        side = _side(side)
        size = _size(size)
        tick = Decimal(str(suite.instrument.tickSize))
        if check_spread:
            quote = suite.realtime.market.quotes.get(suite.instrument_id)
            if quote is not None and quote.bid is not None and quote.ask is not None:
                spread_ticks = (Decimal(str(quote.ask)) - Decimal(str(quote.bid))) / tick
                if spread_ticks > self.max_spread_ticks:
                    raise ValueError(
                        f"Spread too wide: {spread_ticks} ticks (max: {self.max_spread_ticks})"
                    )
        builder = OrderChainBuilder(suite)
        if self.use_market_entry:
            builder.market_order(size, side)
        else:
            builder.limit_order(size, await _current_price(suite), side)
        builder.with_stop_loss(offset=self.stop_ticks * tick)
        builder.with_take_profit(offset=self.target_ticks * tick)
        return await builder.execute()


#: project-x-py's ready-made templates, by name.
TEMPLATES: dict[str, OrderTemplate] = {
    "conservative_rr": RiskRewardTemplate(risk_reward_ratio=1.5, use_limit_entry=True),
    "conservative_atr": ATRStopTemplate(atr_multiplier=1.5, target_multiplier=2.0),
    "standard_rr": RiskRewardTemplate(risk_reward_ratio=2.0),
    "standard_atr": ATRStopTemplate(atr_multiplier=2.0, target_multiplier=3.0),
    "standard_breakout": BreakoutTemplate(),
    "aggressive_rr": RiskRewardTemplate(risk_reward_ratio=3.0, use_limit_entry=False),
    "aggressive_atr": ATRStopTemplate(atr_multiplier=2.5, target_multiplier=4.0),
    "aggressive_scalp": ScalpingTemplate(stop_ticks=3, target_ticks=9),
    "tight_scalp": ScalpingTemplate(stop_ticks=2, target_ticks=4),
    "normal_scalp": ScalpingTemplate(stop_ticks=4, target_ticks=8),
    "wide_scalp": ScalpingTemplate(stop_ticks=6, target_ticks=12),
}


def get_template(name: str) -> OrderTemplate:
    """A ready-made template by name; ValueError naming the available ones otherwise."""
    if name not in TEMPLATES:
        raise ValueError(f"Unknown template: {name}. Available: {', '.join(TEMPLATES)}")
    return TEMPLATES[name]
