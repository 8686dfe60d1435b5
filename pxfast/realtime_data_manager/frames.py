"""polars DataFrames of bars, in project-x-py 4.4.1's exact schema.

Bots written for project-x-py treat every bar result as a ``polars.DataFrame``
(``.pipe``, ``.with_columns``, ``.filter``, ``df["close"].tail(1)``) and some
compare schemas, so the columns, their order, their dtypes and the time
stamp's zone must be project-x-py's::

    timestamp  Datetime("us", <zone>)   bar start, shown in the configured zone
    open high low close  Float64
    volume     Int64

Every bar frame pxfast hands out is built here, from numpy columns
(``bar_frame``) or, for the few newest bars of a live read, from Python
values (``bar_rows``), so the dtypes and the zone handling live in one place (the names are
``pxfast.bars.COLUMNS``, shared with the numpy path).  polars is imported at
the first frame, never at ``import pxfast``: a bot that reads only prices
pays nothing for it.

The frame *shares* the float64 and int64 columns' memory (polars wraps a
contiguous numpy buffer without copying), so a caller must never write into
an array it has passed here; the time stamps are converted, so theirs may be
reused.  Casting int64 microseconds to a zoned Datetime reads them as UTC
instants and only labels the zone (about 10 us for 10 000 rows), where
``replace_time_zone`` + ``convert_time_zone`` on naive values costs ~17x that.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pxfast.bars import COLUMNS

if TYPE_CHECKING:
    import numpy.typing as npt
    import polars as pl

__all__ = ["bar_frame", "bar_rows"]

#: (start in microseconds since the epoch, open, high, low, close, volume)
Row = tuple[int, float, float, float, float, int]


def bar_frame(
    start_us: npt.ArrayLike,
    open: npt.ArrayLike,
    high: npt.ArrayLike,
    low: npt.ArrayLike,
    close: npt.ArrayLike,
    volume: npt.ArrayLike,
    tz: str,
) -> pl.DataFrame:
    """Bars as project-x-py's frame: ``start_us`` is bar start in microseconds since the
    epoch (UTC), shown in zone ``tz``; columns oldest first, all the same length.

    Columns already of the right dtype and contiguous are wrapped, not copied.
    """
    import numpy as np
    import polars as pl

    stamps = pl.Series(COLUMNS[0], _column(start_us, np.int64)).cast(pl.Datetime("us", tz))
    prices = [
        pl.Series(name, _column(values, np.float64))
        for name, values in zip(COLUMNS[1:5], (open, high, low, close), strict=True)
    ]
    sizes = pl.Series(COLUMNS[5], _column(volume, np.int64))
    return pl.DataFrame([stamps, *prices, sizes])


def _column(values: npt.ArrayLike, dtype: type[Any]) -> npt.NDArray[Any]:
    """``values`` as a contiguous 1-D array of ``dtype`` (itself when it already is)."""
    import numpy as np

    array = np.ascontiguousarray(values, dtype=dtype)
    if array.ndim != 1:
        raise ValueError(f"a bar column is one-dimensional, not of shape {array.shape}")
    return array


def bar_rows(rows: Sequence[Row], tz: str) -> pl.DataFrame:
    """A few bars as project-x-py's frame, from Python values, in one polars call.

    Six Series from numpy cost ~40 us whatever their length; this path costs
    ~15 us for a handful of rows (the live bars' open bar and newest closes),
    so ``bar_frame`` serves long columns and this one the few newest bars.
    """
    import polars as pl

    return pl.DataFrame([dict(zip(COLUMNS, row, strict=True)) for row in rows], schema=_schema(tz))


@lru_cache(maxsize=16)
def _schema(tz: str) -> pl.Schema:
    import polars as pl

    return pl.Schema(
        [(COLUMNS[0], pl.Datetime("us", tz))]
        + [(name, pl.Float64()) for name in COLUMNS[1:5]]
        + [(COLUMNS[5], pl.Int64())]
    )
