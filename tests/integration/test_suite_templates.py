"""project-x-py's order templates against the simulator: each places what it claims.

Every expected price and size below is worked out by hand from the template's
rule, the simulator's fill rules (a market buy takes the ask, a sell the bid;
a resting limit fills at its price; a stop takes the touch once printed
through) and MNQ's tick of 0.25 worth $0.50.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from test_suite_harness import TICK, move_price, order_of, running_suite, status_becomes

from pxfast.order_templates import (
    TEMPLATES,
    ATRStopTemplate,
    BreakoutTemplate,
    OrderTemplate,
    RiskRewardTemplate,
    ScalpingTemplate,
    get_template,
)
from pxfast.sim import GatewaySimulator
from pxfast.trading_suite import TradingSuite
from pxfast.types import OrderStatus, OrderType

P = Decimal("21000")
TICK_VALUE = Decimal("0.5")

pytestmark = pytest.mark.both_loops


@pytest.fixture
async def suite(simulator: GatewaySimulator) -> AsyncIterator[TradingSuite]:
    async with running_suite(simulator) as running:
        await move_price(simulator, running, P)
        yield running


def ticks(distance: Decimal) -> int:
    """Tick count of a bracket distance, rounded half-even (the native bracket's rule)."""
    return int((distance / TICK).quantize(Decimal(1), ROUND_HALF_EVEN))


def align(price: Decimal) -> Decimal:
    """The order manager's alignment: nearest tick, ties away from zero."""
    return (price / TICK).quantize(Decimal(1), ROUND_HALF_UP) * TICK


async def legs_after_fill(suite: TradingSuite, result: object) -> tuple[Decimal, Decimal, Decimal]:
    """(entry fill, stop leg price, target leg price) once the legs are live."""
    stop_id, target_id = result.stop_order_id, result.target_order_id  # type: ignore[attr-defined]
    await status_becomes(suite, stop_id, OrderStatus.OPEN)
    await status_becomes(suite, target_id, OrderStatus.OPEN)
    entry = order_of(suite, result.entry_order_id)  # type: ignore[attr-defined]
    stop, target = order_of(suite, stop_id), order_of(suite, target_id)
    return (
        Decimal(str(entry.filledPrice)),
        Decimal(str(stop.stopPrice)),
        Decimal(str(target.limitPrice)),
    )


async def test_risk_reward_limit_entry_sized_from_risk(
    simulator: GatewaySimulator, suite: TradingSuite
) -> None:
    template = RiskRewardTemplate(risk_reward_ratio=2.0, stop_distance=5, use_limit_entry=True)
    result = await template.create_order(suite, side=0, risk_amount=50, entry_offset=2)
    # Stop 5 points = 20 ticks = $10 a contract: $50 buys 5 contracts.
    entry = order_of(suite, result.entry_order_id)
    assert (entry.type, entry.side, entry.size) == (OrderType.LIMIT, 0, 5)
    assert entry.limitPrice == float(P - 2)
    await move_price(simulator, suite, P - 2 - TICK)
    fill, stop, target = await legs_after_fill(suite, result)
    assert (fill, stop, target) == (P - 2, P - 7, P + 8)
    assert order_of(suite, result.stop_order_id).size == 5


async def test_risk_reward_sized_from_a_percentage_of_the_balance(suite: TradingSuite) -> None:
    balance = Decimal(str(float(suite.client.get_account_info().balance)))
    template = RiskRewardTemplate(stop_distance=Decimal("12.5"))
    result = await template.create_order(suite, side=1, risk_percent=0.002, entry_offset=1)
    per_contract = ticks(Decimal("12.5")) * TICK_VALUE  # 50 ticks: $25
    expected = int((balance * Decimal("0.002") / per_contract).to_integral_value(ROUND_FLOOR))
    entry = order_of(suite, result.entry_order_id)
    assert (entry.side, entry.size, entry.limitPrice) == (1, expected, float(P + 1))


async def test_aggressive_rr_enters_at_market_with_a_one_percent_stop(
    suite: TradingSuite,
) -> None:
    result = await get_template("aggressive_rr").create_order(suite, side=1, size=1)
    fill, stop, target = await legs_after_fill(suite, result)
    assert fill == P  # a market sell takes the bid
    stop_distance = P * Decimal("0.01")  # 210 points
    assert stop == fill + stop_distance
    assert target == fill - 3 * stop_distance


async def test_atr_template_stops_two_atrs_away(suite: TradingSuite) -> None:
    bars = await suite.data.get_data("5min", bars=15)
    assert bars is not None and len(bars) == 15
    high, low, close = (list(map(Fraction, bars[c].to_list())) for c in ("high", "low", "close"))
    true_ranges = [high[0] - low[0]] + [
        max(h - lo, abs(h - pc), abs(lo - pc))
        for h, lo, pc in zip(high[1:], low[1:], close[:-1], strict=True)
    ]
    exact = true_ranges[0]
    for value in true_ranges[1:]:
        exact = exact * Fraction(13, 14) + value / 14  # Wilder: alpha 1/14
    atr = Decimal(exact.numerator) / Decimal(exact.denominator)
    stop_ticks = ticks(atr * 2)
    target_ticks = ticks(atr * 2 * 3)
    result = await get_template("standard_atr").create_order(suite, side=0, size=2)
    fill, stop, target = await legs_after_fill(suite, result)
    assert fill == P + TICK
    assert stop == fill - stop_ticks * TICK
    assert target == fill + target_ticks * TICK
    assert order_of(suite, result.target_order_id).size == 2
    with pytest.raises(ValueError, match="Insufficient data"):
        await ATRStopTemplate(timeframe="15min").create_order(suite, side=0, size=1)


async def test_breakout_at_an_explicit_level_is_a_stop_entry(
    simulator: GatewaySimulator, suite: TradingSuite
) -> None:
    template = BreakoutTemplate(breakout_offset=2.0, stop_at_level=True)
    result = await template.create_order(
        suite, side=0, size=1, breakout_level=float(P + 5), range_size=8
    )
    entry = order_of(suite, result.entry_order_id)
    assert (entry.type, entry.side, entry.stopPrice) == (OrderType.STOP, 0, float(P + 7))
    assert order_of(suite, result.stop_order_id).status == OrderStatus.SUSPENDED
    await move_price(simulator, suite, P + 7)  # printed through: the buy stop takes the ask
    fill, stop, target = await legs_after_fill(suite, result)
    assert fill == P + 7 + TICK
    # Native legs keep their tick distances from the planned entry: 2 and 12 points.
    assert (stop, target) == (fill - 2, fill + 12)


async def test_breakout_below_the_recent_low(suite: TradingSuite) -> None:
    bars = await suite.data.get_data("5min", bars=20)
    assert bars is not None
    low, high = Decimal(str(bars["low"].min())), Decimal(str(bars["high"].max()))
    result = await get_template("standard_breakout").create_order(suite, side=1, size=1)
    entry = order_of(suite, result.entry_order_id)
    planned = low - 2
    assert (entry.type, entry.side, entry.stopPrice) == (OrderType.STOP, 1, float(planned))
    target = align(planned - (high - low) * Decimal("1.5"))
    stop_leg, target_leg = (
        order_of(suite, result.stop_order_id),
        order_of(suite, result.target_order_id),
    )
    assert (stop_leg.side, target_leg.side) == (0, 0)
    assert abs(stop_leg.trailDistance) == ticks(low - planned)
    assert abs(target_leg.trailDistance) == ticks(planned - target)


async def test_scalp_brackets_in_ticks_and_checks_the_spread(
    simulator: GatewaySimulator, suite: TradingSuite
) -> None:
    result = await get_template("normal_scalp").create_order(suite, side=0, size=1)
    fill, stop, target = await legs_after_fill(suite, result)
    assert (fill, stop, target) == (P + TICK, P + TICK - 4 * TICK, P + TICK + 8 * TICK)
    await move_price(simulator, suite, P, bid=P - 1, ask=P + 1)  # an 8-tick spread
    placed = len(suite.orders.orders)
    with pytest.raises(ValueError, match="Spread too wide"):
        await ScalpingTemplate(max_spread_ticks=2).create_order(suite, side=0, size=1)
    assert len(suite.orders.orders) == placed


def test_the_named_templates() -> None:
    assert set(TEMPLATES) == {
        "conservative_rr",
        "conservative_atr",
        "standard_rr",
        "standard_atr",
        "standard_breakout",
        "aggressive_rr",
        "aggressive_atr",
        "aggressive_scalp",
        "tight_scalp",
        "normal_scalp",
        "wide_scalp",
    }
    assert all(isinstance(t, OrderTemplate) for t in TEMPLATES.values())
    scalp = get_template("aggressive_scalp")
    assert isinstance(scalp, ScalpingTemplate)
    assert (scalp.stop_ticks, scalp.target_ticks) == (3, 9)
    assert repr(scalp).startswith("ScalpingTemplate(stop_ticks=3, target_ticks=9")
    assert RiskRewardTemplate() != RiskRewardTemplate()  # plain objects, as in project-x-py
    with pytest.raises(ValueError, match="Unknown template: nope"):
        get_template("nope")
    # The guide's field constructor is untouched.
    guide = OrderTemplate(name="scalp", order_type="bracket", side=0, size=2, stop_offset=5)
    assert (guide.name, guide.size, guide.stop_offset) == ("scalp", 2, 5)
