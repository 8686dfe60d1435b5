"""The futures the simulator lists, with the Gateway's ids, tick sizes and values.

Contract ids follow the Gateway: ``CON.F.US.<root>.<month code><yy>``, where
the root is the Gateway's own (NQ is ``ENQ``, ES ``EP``, GC ``GCE``, CL
``CLE``, MCL ``MCLE``, 6E ``EU6``, ZN ``TYA``) and the name is the exchange
code with a one-digit year (``NQZ6``).  Which month is "front" follows each
product's roll, computed from the simulator's clock, so a client that builds
contract ids from a calendar finds the same ones.  Any listed month of a
known root resolves (``Contract/searchById`` and bar stitching ask for
expired months); only the front month trades.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from pxfast._ticks import TickSize

__all__ = ["INSTRUMENTS", "Catalog", "Contract", "InstrumentSpec"]

MONTH_CODES = "FGHJKMNQUVXZ"
_ID_RE = re.compile(r"^CON\.F\.US\.([A-Z0-9]+)\.([FGHJKMNQUVXZ])(\d{2})$")


def _third_friday(year: int, month: int) -> date:
    first = date(year, month, 1)
    offset = (calendar.FRIDAY - first.weekday()) % 7
    return first + timedelta(days=offset + 14)


def _roll_index(year: int, month: int) -> date:
    """Equity index and FX futures roll about a week before the third-Friday expiry."""
    return _third_friday(year, month) - timedelta(days=8)


def _roll_prior_month(day: int) -> Callable[[int, int], date]:
    """Physically delivered products roll on ``day`` of the month before delivery."""

    def roll(year: int, month: int) -> date:
        if month == 1:
            return date(year - 1, 12, day)
        return date(year, month - 1, day)

    return roll


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    """One product. Money and prices are decimal strings so nothing is binary-rounded."""

    symbol: str
    root: str
    description: str
    tick_size: str
    tick_value: str
    fee: str
    margin: str
    price: str
    cycle: str
    roll: Callable[[int, int], date] = field(repr=False)

    @property
    def symbol_id(self) -> str:
        return f"F.US.{self.root}"


INSTRUMENTS: tuple[InstrumentSpec, ...] = (
    InstrumentSpec("MNQ", "MNQ", "Micro E-mini Nasdaq-100", "0.25", "0.5", "0.37",
                   "2100", "21000", "HMUZ", _roll_index),
    InstrumentSpec("MES", "MES", "Micro E-mini S&P 500", "0.25", "1.25", "0.37",
                   "1500", "6000", "HMUZ", _roll_index),
    InstrumentSpec("NQ", "ENQ", "E-mini NASDAQ-100", "0.25", "5", "1.40",
                   "21000", "21000", "HMUZ", _roll_index),
    InstrumentSpec("ES", "EP", "E-Mini S&P 500", "0.25", "12.5", "1.40",
                   "15000", "6000", "HMUZ", _roll_index),
    InstrumentSpec("MYM", "MYM", "Micro E-mini Dow Jones", "1", "0.5", "0.37",
                   "1000", "44000", "HMUZ", _roll_index),
    InstrumentSpec("M2K", "M2K", "Micro E-mini Russell 2000", "0.1", "0.5", "0.37",
                   "700", "2400", "HMUZ", _roll_index),
    InstrumentSpec("MGC", "MGC", "Micro Gold", "0.1", "1", "0.62",
                   "1700", "4000", "GJMQVZ", _roll_prior_month(25)),
    InstrumentSpec("GC", "GCE", "Gold", "0.1", "10", "1.62",
                   "17000", "4000", "GJMQVZ", _roll_prior_month(25)),
    InstrumentSpec("MCL", "MCLE", "Micro WTI Crude Oil", "0.01", "1", "0.52",
                   "600", "60", "FGHJKMNQUVXZ", _roll_prior_month(15)),
    InstrumentSpec("CL", "CLE", "Crude Oil", "0.01", "10", "1.52",
                   "6000", "60", "FGHJKMNQUVXZ", _roll_prior_month(15)),
    InstrumentSpec("6E", "EU6", "Euro FX", "0.00005", "6.25", "1.62",
                   "2600", "1.15", "HMUZ", _roll_index),
    InstrumentSpec("ZN", "TYA", "10-Year US Treasury Note", "0.015625", "15.625", "0.87",
                   "2000", "112", "HMUZ", _roll_prior_month(25)),
)


@dataclass(slots=True)
class Contract:
    """One listed month of a product, with the Gateway's naming."""

    spec: InstrumentSpec
    month: int
    year: int
    active: bool
    tick: TickSize = field(init=False)
    tick_value: Decimal = field(init=False)
    fee: Decimal = field(init=False)
    margin: Decimal = field(init=False)

    def __post_init__(self) -> None:
        self.tick = TickSize(self.spec.tick_size)
        self.tick_value = Decimal(self.spec.tick_value)
        self.fee = Decimal(self.spec.fee)
        self.margin = Decimal(self.spec.margin)

    @property
    def code(self) -> str:
        return MONTH_CODES[self.month - 1]

    @property
    def id(self) -> str:
        return f"CON.F.US.{self.spec.root}.{self.code}{self.year % 100:02d}"

    @property
    def name(self) -> str:
        return f"{self.spec.symbol}{self.code}{self.year % 10}"

    @property
    def symbol_id(self) -> str:
        return self.spec.symbol_id

    @property
    def description(self) -> str:
        return f"{self.spec.description}: {calendar.month_name[self.month]} {self.year}"

    @property
    def display_name(self) -> str:
        """The position's ``contractDisplayName`` (e.g. ``MNQZ26``)."""
        return f"{self.spec.symbol}{self.code}{self.year % 100:02d}"


def _months_from(year: int, month: int) -> Iterator[tuple[int, int]]:
    while True:
        yield year, month
        month += 1
        if month > 12:
            month, year = 1, year + 1


def front_month(spec: InstrumentSpec, today: date) -> tuple[int, int]:
    """(year, month) of the contract that trades on ``today``."""
    for year, month in _months_from(today.year, today.month):
        if MONTH_CODES[month - 1] in spec.cycle and today < spec.roll(year, month):
            return year, month
    raise AssertionError("unreachable: every cycle has a next month")  # pragma: no cover


class Catalog:
    """The front contract of each product, fixed when the simulator starts."""

    def __init__(self, now: float, specs: tuple[InstrumentSpec, ...] = INSTRUMENTS) -> None:
        today = datetime.fromtimestamp(now, UTC).date()
        self._specs_by_root = {spec.root: spec for spec in specs}
        self._front: dict[str, Contract] = {}
        self._by_symbol: dict[str, Contract] = {}
        for spec in specs:
            year, month = front_month(spec, today)
            contract = Contract(spec, month, year, active=True)
            self._front[contract.id] = contract
            self._by_symbol[spec.symbol] = contract

    def front_contracts(self) -> list[Contract]:
        return list(self._front.values())

    def active(self, contract_id: str) -> Contract | None:
        """The tradable contract with this id (case-insensitive), or None."""
        return self._front.get(contract_id.upper())

    def by_id(self, contract_id: str) -> Contract | None:
        """Any listed month of a known root, active or expired, or None."""
        key = contract_id.upper()
        front = self._front.get(key)
        if front is not None:
            return front
        match = _ID_RE.match(key)
        if match is None:
            return None
        root, code, yy = match.groups()
        spec = self._specs_by_root.get(root)
        if spec is None or code not in spec.cycle:
            return None
        return Contract(spec, MONTH_CODES.index(code) + 1, 2000 + int(yy), active=False)

    def resolve(self, name: str) -> Contract:
        """A front contract by id or by product symbol (``MNQ``); KeyError if unknown."""
        found = self.active(name) or self._by_symbol.get(name.upper())
        if found is None:
            raise KeyError(f"unknown contract or symbol: {name!r}")
        return found

    def search(self, text: str) -> list[Contract]:
        """``Contract/search``: products whose symbol, name or description contain ``text``."""
        needle = text.strip().upper()
        found = [
            c
            for c in self._front.values()
            if needle in c.spec.symbol
            or needle in c.spec.root
            or needle in c.name
            or needle in c.description.upper()
        ]
        found.sort(key=lambda c: (c.spec.symbol != needle, c.name))
        return found[:20]
