"""Bar history of one contract: synthetic minute bars before start, real prints after.

Clients load days of bars when they start (project-x-py's TradingSuite asks
for five days of 5-minute bars), so each contract gets a seeded minute-bar
history that ends exactly at the start price.  From then on every market
print lands in one-second bars, and a ``History/retrieveBars`` request
aggregates whichever base bars fall in its window to any unit and unit
number with numpy.  Buckets are aligned on the epoch in UTC: minutes, hours
and days on multiples of their width, weeks on Mondays, months on calendar
months.  Second bars exist only for the live part (history has minute
resolution).
"""

from __future__ import annotations

import zlib
from array import array

import numpy as np
import numpy.typing as npt

from pxfast.messages import Bar
from pxfast.sim.instruments import Contract
from pxfast.types import AggregateBarUnit

__all__ = ["BarSeries", "price_scale"]

_MONDAY = 4 * 86400  # 1970-01-05 was a Monday
_WIDTH = {AggregateBarUnit.SECOND: 1, AggregateBarUnit.MINUTE: 60,
          AggregateBarUnit.HOUR: 3600, AggregateBarUnit.DAY: 86400}
#: Standard deviation of the synthetic history's one-minute move, in ticks.
HISTORY_SIGMA = 6.0

I64 = npt.NDArray[np.int64]


def price_scale(contract: Contract) -> tuple[int, float]:
    """(numerator, 10**digits) with tick = numerator / 10**digits exactly.

    ``ticks * numerator / 10**digits`` is then one correctly rounded division,
    i.e. the float nearest the exact decimal price.
    """
    return contract.tick.mantissa, float(10**contract.tick.exponent)


def _month_seconds(months: I64) -> I64:
    """Epoch seconds of the first instant of each month (months since 1970-01)."""
    seconds: I64 = months.astype("datetime64[M]").astype("datetime64[s]").astype(np.int64)
    return seconds


class BarSeries:
    __slots__ = ("_contract", "_hist", "_live", "_scale")

    def __init__(self, contract: Contract, seed: int, start_price: int, now: float,
                 history_days: float) -> None:
        self._contract = contract
        self._scale = price_scale(contract)
        count = max(0, int(history_days * 1440))
        rng = np.random.default_rng([seed % 2**63, zlib.crc32(contract.spec.symbol.encode())])
        moves = np.rint(rng.normal(0.0, HISTORY_SIGMA, count)).astype(np.int64)
        closes = start_price - np.cumsum(moves[::-1])[::-1] + moves  # last close == start
        opens = np.concatenate(([closes[0] - moves[0]], closes[:-1])) if count else closes
        wick_hi = np.abs(np.rint(rng.normal(0.0, HISTORY_SIGMA / 2, count))).astype(np.int64)
        wick_lo = np.abs(np.rint(rng.normal(0.0, HISTORY_SIGMA / 2, count))).astype(np.int64)
        end_minute = int(now // 60) * 60
        self._hist: tuple[I64, ...] = (
            end_minute - 60 * np.arange(count, 0, -1, dtype=np.int64),
            opens,
            np.maximum(opens, closes) + wick_hi,
            np.minimum(opens, closes) - wick_lo,
            closes,
            rng.integers(20, 400, count, dtype=np.int64),
        )
        self._live: tuple[array[int], ...] = tuple(array("q") for _ in range(6))

    def record(self, ts: float, price: int, size: int) -> None:
        """Add one print to the current one-second bar."""
        t, o, h, low, c, v = self._live
        sec = int(ts)
        if t and t[-1] == sec:
            if price > h[-1]:
                h[-1] = price
            if price < low[-1]:
                low[-1] = price
            c[-1] = price
            v[-1] += size
            return
        t.append(sec)
        o.append(price)
        h.append(price)
        low.append(price)
        c.append(price)
        v.append(size)

    def _base(self, unit: int) -> tuple[I64, ...]:
        live = tuple(np.frombuffer(col, dtype=np.int64) for col in self._live)
        if unit == AggregateBarUnit.SECOND:
            return live
        return tuple(np.concatenate((h, lv)) for h, lv in zip(self._hist, live, strict=True))

    @staticmethod
    def _buckets(t: I64, unit: int, number: int) -> tuple[I64, I64]:
        """Start of each base bar's bucket, and the start of the bucket after it."""
        if unit in _WIDTH:
            width = _WIDTH[AggregateBarUnit(unit)] * number
            start = t - t % width
            return start, start + width
        if unit == AggregateBarUnit.WEEK:
            width = 7 * 86400 * number
            start = t - (t - _MONDAY) % width
            return start, start + width
        months = t.astype("datetime64[s]").astype("datetime64[M]").astype(np.int64)
        first = months - months % number
        return _month_seconds(first), _month_seconds(first + number)

    def query(self, unit: int, number: int, start: float, end: float, limit: int,
              include_partial: bool, now: float) -> list[Bar]:
        """Bars whose bucket starts in [start, end), newest first, at most ``limit``."""
        t, o, h, low, c, v = self._base(unit)
        if len(t) == 0:
            return []
        bucket, bucket_end = self._buckets(t, unit, number)
        keep = (bucket >= int(np.ceil(start))) & (bucket < end)
        if not include_partial:
            keep &= bucket_end <= now
        if not keep.any():
            return []
        t, o, h, low, c, v, bucket = (a[keep] for a in (t, o, h, low, c, v, bucket))
        firsts = np.flatnonzero(np.concatenate(([True], bucket[1:] != bucket[:-1])))
        lasts = np.concatenate((firsts[1:], [len(bucket)])) - 1
        rows = (
            bucket[firsts],
            o[firsts],
            np.maximum.reduceat(h, firsts),
            np.minimum.reduceat(low, firsts),
            c[lasts],
            np.add.reduceat(v, firsts),
        )
        newest_first = [a[::-1][:limit] for a in rows]
        numerator, denominator = self._scale
        stamps = np.datetime_as_string(newest_first[0].astype("datetime64[s]"))
        prices = [(a * numerator / denominator).tolist() for a in newest_first[1:5]]
        return [
            Bar(f"{ts}+00:00", op, hi, lo, cl, vol)
            for ts, op, hi, lo, cl, vol in zip(
                stamps.tolist(), *prices, newest_first[5].tolist(), strict=True
            )
        ]
