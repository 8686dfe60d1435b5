"""Tick-size helpers of the order path, under project-x-py's names.

``from project_x_py.order_manager.utils import align_price_to_tick`` keeps
working through ``pxfast.compat``: the functions here take the same arguments
and give the same answers wherever project-x-py 4.4.1's are exact, computed by
the compiled ``pxfast._ticks`` (integer ticks, no Decimal arithmetic).

Deliberate differences, all toward refusing a wrong price rather than sending
one:

* ``align_price_to_tick`` raises ValueError for a tick <= 0 (or NaN, or a
  non-number) where project-x-py silently returns the price unaligned; a NaN
  or infinite price is a ValueError too.
* ``align_price_to_tick_size`` is exact for every tick: project-x-py's async
  path counts decimals in ``str(tick)``, finds none in ``"5e-05"`` and sends
  1.0 for a 1.08765 limit; pxfast returns 1.08765.  It looks the tick up once
  per contract id (see ``clear_tick_size_cache``), and a failed lookup or an
  instrument without a valid tick raises instead of returning the price
  unaligned.
* ``validate_price_tick_size`` raises the same ``ProjectXOrderError`` for an
  unaligned price, naming the two grid prices around it; a failed lookup
  raises instead of skipping the check.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from pxfast._ticks import TickSize, align_price_float
from pxfast.exceptions import ProjectXError, ProjectXOrderError

if TYPE_CHECKING:
    from pxfast._ticks import Price

__all__ = [
    "align_price_to_tick",
    "align_price_to_tick_size",
    "clear_tick_size_cache",
    "resolve_contract_id",
    "validate_price_tick_size",
]


class InstrumentInfo(Protocol):
    """The instrument fields these helpers read (``pxfast.models.Instrument`` has them)."""

    id: str
    name: str
    tickSize: float
    tickValue: float
    activeContract: bool


class InstrumentSource(Protocol):
    """Anything with project-x-py's ``get_instrument`` (the ProjectX client)."""

    async def get_instrument(self, symbol: str) -> InstrumentInfo | None: ...


# contract id -> its parsed tick; filled on first use, emptied by clear_tick_size_cache().
_tick_size_cache: dict[str, TickSize] = {}


def align_price_to_tick(price: Price, tick_size: float | Decimal | int | str) -> float:
    """``price`` aligned to the nearest multiple of ``tick_size`` (ties away from zero).

    The float of the exact decimal result: 21000.13 on 0.25 -> 21000.25,
    1.10005 on 0.00005 -> 1.10005.  Unlike project-x-py, a tick <= 0 raises
    ValueError instead of returning the price unaligned.
    """
    return align_price_float(price, tick_size)


async def _tick_for(contract_id: str, project_x: InstrumentSource) -> TickSize:
    """The contract's tick, looked up once per contract id."""
    tick = _tick_size_cache.get(contract_id)
    if tick is not None:
        return tick
    instrument = await project_x.get_instrument(contract_id)
    raw: Any = getattr(instrument, "tickSize", None)
    try:
        tick = TickSize(raw)  # None, 0 or NaN raise here
    except (TypeError, ValueError) as exc:
        raise ProjectXOrderError(
            f"Invalid tick size {raw!r} for {contract_id}: cannot align prices"
        ) from exc
    _tick_size_cache[contract_id] = tick
    return tick


async def align_price_to_tick_size(
    price: Price | None, contract_id: str, project_x: InstrumentSource
) -> float | None:
    """``price`` aligned to the tick of ``contract_id``'s instrument; None stays None.

    Raises ProjectXOrderError when the instrument has no valid tick, and
    whatever ``get_instrument`` raises when the lookup fails.
    """
    if price is None:
        return None
    tick = await _tick_for(contract_id, project_x)
    return tick.align_float(price)


async def validate_price_tick_size(
    price: Price | None,
    contract_id: str,
    project_x: InstrumentSource,
    price_label: str = "price",
) -> None:
    """Raise ProjectXOrderError unless ``price`` is a whole number of ticks (None passes).

    The message names the price, the tick, the contract and the two valid
    prices around it: "limit_price 2052.17 is not aligned to tick size 0.25
    for MNQ. Valid prices near this value: 2052.0, 2052.25".
    """
    if price is None:
        return
    tick = await _tick_for(contract_id, project_x)
    if tick.is_aligned(price):
        return
    raise ProjectXOrderError(
        f"{price_label} {price} is not aligned to tick size {tick.decimal} for {contract_id}. "
        f"Valid prices near this value: {tick.align_float(price, 'floor')}, "
        f"{tick.align_float(price, 'ceil')}"
    )


async def resolve_contract_id(
    contract_id: str, project_x: InstrumentSource
) -> dict[str, Any] | None:
    """The instrument's id, name, tickSize, tickValue and activeContract, or None.

    None when the instrument is unknown or the lookup fails with a
    ProjectXError, as in project-x-py; programming errors still propagate.
    """
    try:
        instrument = await project_x.get_instrument(contract_id)
    except ProjectXError:
        return None
    if instrument is None:
        return None
    return {
        "id": instrument.id,
        "name": instrument.name,
        "tickSize": instrument.tickSize,
        "tickValue": instrument.tickValue,
        "activeContract": instrument.activeContract,
    }


def clear_tick_size_cache() -> None:
    """Forget the looked-up ticks (for tests, or when an instrument changes)."""
    _tick_size_cache.clear()
