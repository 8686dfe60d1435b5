"""project-x-py's top-level helpers that bots import: ``round_to_tick_size``,
``extract_symbol_from_contract_id`` and ``setup_logging`` (``from
project_x_py.utils import ...``).

``round_to_tick_size`` keeps project-x-py's rule, ties to even, but computes
it exactly on the decimal values a user wrote instead of in binary floating
point, so 2050.35 on a 0.1 tick is 2050.4 (the float division in
project-x-py makes it 2050.3).  It is *not* the rule orders are aligned by:
``place_*`` rounds ties away from zero (``order_manager.utils.align_price_to_tick``),
as project-x-py's order path does.
"""

from __future__ import annotations

import logging
import re
from decimal import Decimal

from pxfast._redact import RedactingFilter
from pxfast._ticks import TickSize

__all__ = ["extract_symbol_from_contract_id", "round_to_tick_size", "setup_logging"]

_DEFAULT_FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"

_ROOT = re.compile(r"[A-Z]{2,4}")
_CONTRACT = re.compile(r"CON\.F\.US\.([A-Z]{2,4})\.[FGHJKMNQUVXZ]\d{2}")


def round_to_tick_size(price: float | Decimal | int, tick_size: float | Decimal | int) -> float:
    """``price`` rounded to the nearest multiple of ``tick_size``, ties to even, exactly.

    ``round_to_tick_size(20052.125, 0.25)`` is 20052.0 and
    ``round_to_tick_size(2.5, 1)`` is 2.0.  Raises ValueError for a tick
    <= 0 and for a negative price (as project-x-py does), and for NaN or
    infinite values.
    """
    if tick_size <= 0:
        raise ValueError(f"tick_size must be positive, got {tick_size}")
    if price < 0:
        raise ValueError(f"price cannot be negative, got {price}")
    return TickSize(tick_size).align_float(price, "half_even")


def extract_symbol_from_contract_id(contract_id: str) -> str | None:
    """The product root of a contract id (``"CON.F.US.MNQ.Z25"`` -> ``"MNQ"``).

    A bare root (two to four capitals) is returned as given; anything else
    that is not a futures contract id gives None.
    """
    if not contract_id:
        return None
    if _ROOT.fullmatch(contract_id):
        return contract_id
    match = _CONTRACT.fullmatch(contract_id)
    return match.group(1) if match else None


def setup_logging(
    level: str = "INFO",
    format_string: str | None = None,
    filename: str | None = None,
) -> logging.Logger:
    """Configure the root logger as project-x-py's ``setup_logging`` does; returns pxfast's.

    Like project-x-py it is ``logging.basicConfig`` (a no-op when the root
    logger already has handlers) and an unknown level name raises
    AttributeError.  Unlike it, every root handler also gets pxfast's
    redacting filter: a handler filter sees the records of every library
    that propagate to it (the WebSocket library logs the upgrade request with
    its ``access_token``), which a filter on pxfast's own loggers would miss.
    """
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format=_DEFAULT_FORMAT if format_string is None else format_string,
        filename=filename,
    )
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    return logging.getLogger("pxfast")
