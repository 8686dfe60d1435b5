"""OHLCV bars as numpy columns.

project-x-py returns polars DataFrames from ``get_bars``; pxfast does not
depend on polars, so it returns a ``BarFrame``: the same column names
(``timestamp, open, high, low, close, volume``), sorted oldest first, with
numpy arrays per column and ``to_polars()`` / ``to_pandas()`` for callers who
have those libraries installed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, tzinfo
from typing import Any

import numpy as np
import numpy.typing as npt

from pxfast.messages import Bar
from pxfast.models import parse_timestamp

__all__ = ["COLUMNS", "BarFrame"]

COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")


class BarFrame:
    """Bars oldest first; ``frame["close"]`` is a float64 array, ``len(frame)`` the count."""

    __slots__ = ("_columns", "tz")

    def __init__(self, columns: dict[str, npt.NDArray[Any]], tz: tzinfo | None = None) -> None:
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns differ in length: {lengths}")
        self._columns = columns
        self.tz = tz

    @classmethod
    def from_bars(cls, bars: Sequence[Bar], tz: tzinfo | None = None) -> BarFrame:
        """Build from Gateway bars in any order (duplicates by timestamp keep the last)."""
        unique: dict[str, Bar] = {}
        for bar in bars:
            unique[bar.t] = bar
        stamps = []
        for bar in unique.values():
            parsed = parse_timestamp(bar.t)
            assert parsed is not None
            stamps.append(parsed)
        order = sorted(range(len(stamps)), key=stamps.__getitem__)
        rows = list(unique.values())
        ts = np.array(
            [np.datetime64(stamps[i].replace(tzinfo=None), "us") for i in order],
            dtype="datetime64[us]",
        )
        return cls(
            {
                "timestamp": ts,
                "open": np.array([rows[i].o for i in order], dtype=np.float64),
                "high": np.array([rows[i].h for i in order], dtype=np.float64),
                "low": np.array([rows[i].l for i in order], dtype=np.float64),
                "close": np.array([rows[i].c for i in order], dtype=np.float64),
                "volume": np.array([rows[i].v for i in order], dtype=np.int64),
            },
            tz,
        )

    @classmethod
    def empty(cls, tz: tzinfo | None = None) -> BarFrame:
        return cls.from_bars([], tz)

    @property
    def columns(self) -> list[str]:
        return list(self._columns)

    @property
    def height(self) -> int:
        return len(self._columns["timestamp"])

    def __len__(self) -> int:
        return self.height

    def is_empty(self) -> bool:
        return self.height == 0

    def __getitem__(self, column: str) -> npt.NDArray[Any]:
        return self._columns[column]

    def timestamps(self) -> list[datetime]:
        """Bar start times as aware datetimes in ``tz`` (UTC when tz is None)."""
        from datetime import UTC

        out = []
        for value in self._columns["timestamp"].astype("datetime64[us]").tolist():
            stamp = value.replace(tzinfo=UTC)
            out.append(stamp.astimezone(self.tz) if self.tz else stamp)
        return out

    def row(self, index: int) -> dict[str, Any]:
        stamp = self.timestamps()[index]
        values: dict[str, Any] = {"timestamp": stamp}
        for name in COLUMNS[1:]:
            values[name] = self._columns[name][index].item()
        return values

    def iter_rows(self) -> Iterator[dict[str, Any]]:
        for i in range(self.height):
            yield self.row(i)

    def to_dicts(self) -> list[dict[str, Any]]:
        return list(self.iter_rows())

    def _slice(self, window: slice) -> BarFrame:
        return BarFrame({k: v[window] for k, v in self._columns.items()}, self.tz)

    def head(self, n: int = 5) -> BarFrame:
        return self._slice(slice(0, n))

    def tail(self, n: int = 5) -> BarFrame:
        return self._slice(slice(max(0, self.height - n), None))

    def to_polars(self) -> Any:
        import polars as pl

        data = {name: self._columns[name] for name in COLUMNS[1:]}
        return pl.DataFrame({"timestamp": self.timestamps(), **data})

    def to_pandas(self) -> Any:
        import pandas as pd

        data = {name: self._columns[name] for name in COLUMNS[1:]}
        return pd.DataFrame({"timestamp": self.timestamps(), **data})

    def __repr__(self) -> str:
        if self.is_empty():
            return "BarFrame(empty)"
        first, last = self.timestamps()[0], self.timestamps()[-1]
        return f"BarFrame({self.height} bars, {first.isoformat()} .. {last.isoformat()})"
