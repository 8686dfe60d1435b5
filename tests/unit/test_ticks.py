"""pxfast._ticks and order_manager.utils against a pure-Python Decimal oracle.

The oracle restates project-x-py 4.4.1's alignment rule: read each number
through Decimal(str(x)), divide exactly, round the quotient to a whole number
of ticks, multiply back, and keep the tick's decimals.  Every comparison is
exact: Decimals by their text (which carries the exponent and the sign of
zero) and floats by their bits.
"""

from __future__ import annotations

import pickle
from decimal import (
    ROUND_CEILING,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pxfast import _ticks
from pxfast._ticks import (
    TickSize,
    align_price,
    align_price_float,
    align_prices,
    cached_tick_size,
    is_aligned,
    price_to_ticks,
    ticks_to_float,
    ticks_to_price,
)
from pxfast.exceptions import ProjectXError, ProjectXOrderError
from pxfast.models import Instrument
from pxfast.order_manager import utils

# The tick sizes of the issue: index and energy futures, FX (5e-05 has an
# exponent-form repr), bonds in 1/64 and 1/128, and whole-number ticks.
TICKS: list[float | int] = [0.25, 0.1, 0.01, 0.005, 0.00005, 1 / 64, 1 / 128, 0.5, 5, 10]
MODES = ["nearest", "half_even", "floor", "ceil"]

# --- the oracle -----------------------------------------------------------------

ROUNDING = {
    "nearest": ROUND_HALF_UP,
    "half_even": ROUND_HALF_EVEN,
    "floor": ROUND_FLOOR,
    "ceil": ROUND_CEILING,
}
# 80 digits decide exactly: P/T for decimals of at most 19 digits and 18
# places either terminates well within them or stays at least 1/(2T) >= 1e-37
# away from every integer and half-integer (a magnitude below 1e19 needs 56
# digits to show that).  Overflow and invalid operations still trap.
ROUND = Context(prec=80, traps=[InvalidOperation, DivisionByZero, Overflow])
ONE = Decimal(1)


def as_decimal(x: float | int | Decimal | str) -> Decimal:
    return x if isinstance(x, Decimal) else Decimal(str(x))


def tick_places(tick: float | int | Decimal | str) -> int:
    """A float/int tick's repr decimals ignoring a trailing ".0"; a Decimal/str's as written."""
    if isinstance(tick, float | int):
        exponent = Decimal(repr(tick)).normalize().as_tuple().exponent
    else:
        exponent = Decimal(tick).as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def oracle_ticks(price: float | int | Decimal | str, tick: Any, mode: str) -> Decimal:
    """The signed whole number of ticks (a Decimal, so -0 keeps its sign)."""
    quotient = ROUND.divide(as_decimal(price), as_decimal(tick))
    return quotient.quantize(ONE, rounding=ROUNDING[mode], context=ROUND)


def oracle_align(price: float | int | Decimal | str, tick: Any, mode: str = "nearest") -> Decimal:
    aligned = ROUND.multiply(oracle_ticks(price, tick, mode), as_decimal(tick))
    return aligned.quantize(ONE.scaleb(-tick_places(tick)), context=ROUND)


def bits(values: npt.ArrayLike) -> npt.NDArray[np.int64]:
    return np.asarray(values, dtype=np.float64).view(np.int64)


def same_float(a: float, b: float) -> bool:
    return bool(bits([a])[0] == bits([b])[0])


# --- the examples of api-surface §3.4 --------------------------------------------

EXAMPLES = [
    (20052.17, 0.25, "20052.25"),
    (20052.125, 0.25, "20052.25"),
    (20052.375, 0.25, "20052.50"),
    (5000.1249999, 0.25, "5000.00"),
    (2052.15, 0.1, "2052.2"),
    (2050.35, 0.1, "2050.4"),
    (1.23456, 0.0001, "1.2346"),
    (99.5, 1, "100"),
    (-1.125, 0.25, "-1.25"),
    (21000.13, 0.25, "21000.25"),
    (1.10005, 0.00005, "1.10005"),
    (1.08765, 5e-05, "1.08765"),
]


@pytest.mark.parametrize(("price", "tick", "expected"), EXAMPLES)
def test_api_surface_examples(price: float, tick: float, expected: str) -> None:
    assert str(align_price(price, tick)) == expected
    assert same_float(align_price_float(price, tick), float(expected))
    assert str(oracle_align(price, tick)) == expected


def test_no_float_rounding_leaks() -> None:
    assert align_price_float(1.10005, 0.00005) == 1.10005
    assert repr(align_price_float(1.10005, 0.00005)) == "1.10005"
    assert repr(align_price_float(0.3, 0.1)) == "0.3"  # 3 * 0.1 would be 0.30000000000000004
    # Exponent-form tick repr: project-x-py's async path sends 1.0 here.
    assert align_price_float(1.08765, 5e-05) == 1.08765


def test_half_even_and_directed_modes() -> None:
    assert align_price(20052.125, 0.25, "half_even") == Decimal("20052.00")
    assert align_price(20052.375, 0.25, "half_even") == Decimal("20052.50")
    # Exact, unlike project-x-py's float round_to_tick_size (2050.3 there).
    assert align_price(2050.35, 0.1, "half_even") == Decimal("2050.4")
    assert align_price(2.5, 1, "half_even") == Decimal("2")
    assert align_price(21000.13, 0.25, "floor") == Decimal("21000.00")
    assert align_price(21000.13, 0.25, "ceil") == Decimal("21000.25")
    assert align_price(-21000.13, 0.25, "floor") == Decimal("-21000.25")
    assert align_price(-21000.13, 0.25, "ceil") == Decimal("-21000.00")


def test_negative_zero_follows_decimal() -> None:
    # Decimal arithmetic gives -0.00 here; float() of it is -0.0.
    assert str(oracle_align(-0.1, 0.25)) == "-0.00"
    assert str(align_price(-0.1, 0.25)) == "-0.00"
    assert same_float(align_price_float(-0.1, 0.25), -0.0)
    assert same_float(align_price_float(0.1, 0.25), 0.0)
    assert str(align_price(-0.1, 0.25, "ceil")) == "-0.00"
    assert same_float(float(align_prices([-0.1], 0.25)[0]), -0.0)


# --- tick sizes -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("tick", "text", "exponent", "mantissa"),
    [
        (0.25, "0.25", 2, 25),
        (10.0, "10", 0, 10),
        (10, "10", 0, 10),
        (5e-05, "0.00005", 5, 5),
        (1 / 128, "0.0078125", 7, 78125),
        (Decimal("0.250"), "0.250", 3, 250),
        ("0.250", "0.250", 3, 250),
        (Decimal("1E+1"), "10", 0, 10),
        (" 0.5 ", "0.5", 1, 5),
        (TickSize(0.1), "0.1", 1, 1),
    ],
)
def test_tick_size_parsing(tick: Any, text: str, exponent: int, mantissa: int) -> None:
    size = TickSize(tick)
    assert str(size.decimal) == text
    assert (size.exponent, size.mantissa) == (exponent, mantissa)
    assert same_float(size.value, float(Decimal(text)))
    assert repr(size) == f"TickSize({text!r})"


def test_tick_size_keeps_written_decimals() -> None:
    assert str(align_price(21000.13, "0.250")) == "21000.250"
    assert str(align_price(21000.13, Decimal("0.25"))) == "21000.25"
    assert str(align_price(21000.13, 1.0)) == "21000"
    assert str(oracle_align(21000.13, "0.250")) == "21000.250"


def test_tick_size_value_semantics() -> None:
    assert TickSize(0.25) == TickSize("0.25") == TickSize(Decimal("0.25"))
    assert TickSize("0.25") != TickSize("0.250")
    assert hash(TickSize(0.25)) == hash(TickSize("0.25"))
    assert pickle.loads(pickle.dumps(TickSize("0.250"))) == TickSize("0.250")


def test_tick_cache_is_shared_and_right_after_collisions() -> None:
    assert cached_tick_size(0.25) is cached_tick_size(0.25)
    size = TickSize(0.5)
    assert cached_tick_size(size) is size
    # Far more ticks than cache slots, twice: an evicted or colliding slot must
    # never hand back another tick's TickSize.
    ticks: list[Any] = [k / 100 for k in range(1, 301)] + list(range(1, 101))
    ticks += [Decimal(k) / 1000 for k in range(1, 101)] + [f"0.{k:03d}" for k in range(1, 101)]
    for _ in range(2):
        for tick in ticks:
            assert str(align_price(12345.678, tick)) == str(oracle_align(12345.678, tick)), tick


# --- conversions ------------------------------------------------------------------


def test_ticks_round_trip() -> None:
    size = TickSize(0.25)
    assert size.to_ticks(21000.25) == 84001 == price_to_ticks("21000.25", 0.25)
    assert size.to_ticks(21000.13, "nearest") == 84001
    assert size.to_ticks(21000.13, "floor") == 84000
    assert size.from_ticks(84001) == Decimal("21000.25")
    assert str(ticks_to_price(84001, "0.250")) == "21000.250"
    assert ticks_to_float(84001, 0.25) == 21000.25
    assert size.from_ticks(np.int64(-3)) == Decimal("-0.75")
    assert size.from_ticks_float(0) == 0.0
    # Beyond 2**53 the float comes from the decimal text, still correctly rounded.
    big = 2**60 + 1
    assert same_float(size.from_ticks_float(big), float(Decimal(big) * Decimal("0.25")))
    assert size.from_ticks(big) == Decimal(big) * Decimal("0.25")


def test_to_ticks_exact_mode() -> None:
    with pytest.raises(ValueError, match=r"21000\.13.*not aligned to tick size 0\.25"):
        price_to_ticks(21000.13, 0.25)
    with pytest.raises(ValueError, match="not aligned"):
        align_price(21000.13, 0.25, "exact")
    assert align_price(21000.5, 0.25, "exact") == Decimal("21000.50")


def test_is_aligned() -> None:
    assert is_aligned(21000.25, 0.25)
    assert not is_aligned(21000.13, 0.25)
    assert is_aligned("21000.2500", 0.25)
    assert is_aligned(Decimal("1.08765"), 5e-05)
    assert is_aligned(21000, 0.25)
    assert not is_aligned(21000.250000000004, 0.25)  # one ulp above the grid
    assert is_aligned(-0.0, 0.25)


def test_tiny_prices_only_sign_matters() -> None:
    for tiny in (1e-30, "1e-30", Decimal("1E-999"), 5e-324):
        assert str(align_price(tiny, 0.25)) == "0.00"
        assert str(align_price(tiny, 0.25, "ceil")) == "0.25"
        assert price_to_ticks(tiny, 0.25, "floor") == 0
        assert not is_aligned(tiny, 0.25)
    assert str(align_price(-1e-30, 0.25, "floor")) == "-0.25"
    assert str(align_price(-1e-30, 0.25)) == "-0.00"
    assert align_prices([1e-300, -1e-300], 0.25, "ceil").tolist() == [0.25, -0.0]


def test_input_kinds_agree() -> None:
    for price in (21000.13, "21000.13", Decimal("21000.13"), np.float64(21000.13)):
        assert str(align_price(price, 0.25)) == "21000.25"
    assert str(align_price(21000, 0.25)) == "21000.00"
    assert str(align_price(np.int64(21000), np.int64(5))) == "21000"
    assert str(align_price(" 1_000.13 ", 0.25)) == "1000.25"  # as Decimal() reads it
    assert str(align_price("-0", 0.25)) == "-0.00"
    assert price_to_ticks(2**62, 1) == 2**62


# --- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "error", "pattern"),
    [
        (float("nan"), ValueError, r"Invalid price nan: not a finite number"),
        (float("inf"), ValueError, r"Invalid price inf: not a finite number"),
        (float("-inf"), ValueError, r"Invalid price -inf"),
        (Decimal("NaN"), ValueError, r"Decimal\('NaN'\): not a finite number"),
        ("Infinity", ValueError, r"'Infinity': not a finite number"),
        ("abc", ValueError, r"Invalid price 'abc': not a number"),
        ("", ValueError, r"Invalid price '': not a number"),
        (None, TypeError, r"Invalid price None: expected int, float, Decimal or str"),
        (True, TypeError, r"Invalid price True"),
        ([1.0], TypeError, r"got list"),
        (np.float32(1.5), TypeError, r"got float32"),
        (1e300, ValueError, r"1e\+300: beyond exact int64 tick math"),
        (2**63, ValueError, r"beyond exact int64 tick math"),
        (Decimal("1.0000000000000000000001"), ValueError, r"beyond exact int64"),
    ],
)
def test_bad_prices(price: Any, error: type[Exception], pattern: str) -> None:
    for call in (align_price, align_price_float, price_to_ticks):
        with pytest.raises(error, match=pattern):
            call(price, 0.25)


@pytest.mark.parametrize(
    ("tick", "error", "pattern"),
    [
        (0, ValueError, r"Invalid tick size 0: must be > 0"),
        (0.0, ValueError, r"Invalid tick size 0\.0: must be > 0"),
        (-0.25, ValueError, r"Invalid tick size -0\.25: must be > 0"),
        (Decimal("-0.25"), ValueError, r"must be > 0"),
        (float("nan"), ValueError, r"Invalid tick size nan: not a finite number"),
        (float("inf"), ValueError, r"not a finite number"),
        ("tick", ValueError, r"Invalid tick size 'tick': not a number"),
        (None, TypeError, r"Invalid tick size None: expected"),
        (False, TypeError, r"Invalid tick size False"),
        ("1e-19", ValueError, r"'1e-19': beyond exact int64 tick math"),
        (10**20, ValueError, r"beyond exact int64 tick math"),
    ],
)
def test_bad_ticks(tick: Any, error: type[Exception], pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        TickSize(tick)
    with pytest.raises(error, match=pattern):
        align_price(21000.13, tick)


def test_bad_modes_and_counts() -> None:
    with pytest.raises(ValueError, match=r"Invalid rounding mode 'up'"):
        align_price(1.0, 0.25, "up")
    with pytest.raises(ValueError, match=r"Invalid rounding mode None"):
        TickSize(0.25).align(1.0, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ticks_to_price(1.5, 0.25)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid tick count 1180591620717411303424"):
        ticks_to_price(2**70, 0.25)
    with pytest.raises(ValueError, match="beyond exact int64"):
        TickSize(1e-18).to_ticks(1e6)


# --- numpy batch ---------------------------------------------------------------------


def test_batch_shapes_and_kinds() -> None:
    size = TickSize(0.25)
    grid = np.array([[21000.13, 20052.125], [-0.1, 5000.1249999]])
    aligned = size.align_array(grid)
    assert aligned.shape == (2, 2) and aligned.dtype == np.float64
    assert aligned.tolist() == [[21000.25, 20052.25], [-0.0, 5000.0]]
    ticks = size.to_ticks_array(grid, "floor")
    assert ticks.dtype == np.int64 and ticks.tolist() == [[84000, 80208], [-1, 20000]]
    assert align_prices([], 0.25).shape == (0,)
    frozen = np.array([1.1, 2.2])
    frozen.setflags(write=False)
    assert align_prices(frozen, 0.1).tolist() == [1.1, 2.2]
    assert size.to_ticks_array([21000.25], "exact").tolist() == [84001]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_batch_names_the_bad_index(bad: float) -> None:
    prices = np.array([1.0, 2.0, 3.0, bad, 5.0])
    with pytest.raises(ValueError, match=rf"Invalid price {bad!r} at index 3: not a finite"):
        align_prices(prices, 0.25)
    with pytest.raises(ValueError, match="at index 3"):
        TickSize(0.25).to_ticks_array(prices)
    with pytest.raises(ValueError, match=r"21000\.13 at index 1: not aligned"):
        TickSize(0.25).to_ticks_array([21000.25, 21000.13], "exact")


# --- the exactness sweep ----------------------------------------------------------------


def sweep_prices(tick: float | int, count: int, seed: int) -> npt.NDArray[np.float64]:
    """Prices that stress every path: grid points, ties, their float neighbours
    (17-digit reprs, the GIL slow path), short decimals and raw doubles."""
    rng = np.random.default_rng(seed)
    size = TickSize(tick)
    span = min(float(tick) * 4e6, 1e6)
    part = count // 5
    k = rng.integers(-int(span / float(tick)), int(span / float(tick)), part)
    scale = float(10**size.exponent)
    grid = (k * size.mantissa).astype(np.float64) / scale  # correctly rounded decimals
    ties = ((2 * k + 1) * size.mantissa).astype(np.float64) / (2 * scale)
    near = np.concatenate([grid[: part // 2], ties[: part - part // 2]])
    near = np.nextafter(near, np.where(rng.random(part) < 0.5, -np.inf, np.inf))
    places = rng.integers(0, size.exponent + 4, part)
    short = np.round(rng.uniform(-span, span, part) * 10.0**places) / 10.0**places
    raw = rng.uniform(-span, span, count - 4 * part)
    return np.concatenate([grid, ties, near, short, raw])


@pytest.mark.parametrize("tick", TICKS)
def test_exactness_sweep(tick: float | int) -> None:
    """Zero mismatches against the oracle over 100 000 prices per tick (nearest),
    and 10 000 per directed mode, through the batch path."""
    prices = sweep_prices(tick, 100_000, seed=int(tick * 1e7))
    values = prices.tolist()
    expected = [oracle_align(p, tick) for p in values]
    got = align_prices(prices, tick)
    mismatches = np.flatnonzero(bits(got) != bits([float(d) for d in expected]))
    assert mismatches.size == 0, [(values[i], expected[i], got[i]) for i in mismatches[:5]]
    got_ticks = TickSize(tick).to_ticks_array(prices)
    assert got_ticks.tolist() == [int(oracle_ticks(p, tick, "nearest")) for p in values]
    subset = prices[::10]
    for mode in MODES[1:]:
        want = [int(oracle_ticks(p, tick, mode)) for p in subset.tolist()]
        assert TickSize(tick).to_ticks_array(subset, mode).tolist() == want, mode


@pytest.mark.parametrize("tick", TICKS)
def test_decimal_results_match_oracle_text(tick: float | int) -> None:
    """Scalar Decimal results (through the result cache) carry the oracle's exact text."""
    prices = sweep_prices(tick, 5_000, seed=7).tolist()
    for price in prices:
        assert str(align_price(price, tick)) == str(oracle_align(price, tick)), price


# --- hypothesis properties -----------------------------------------------------------------


@st.composite
def tick_and_price(draw: st.DrawFn) -> tuple[float | int, float]:
    tick = draw(st.sampled_from(TICKS))
    size = TickSize(tick)
    span = min(float(tick) * 4e6, 1e6)
    k = draw(st.integers(-int(span / float(tick)), int(span / float(tick))))
    price = draw(
        st.one_of(
            st.floats(-span, span, allow_nan=False, allow_infinity=False),
            st.decimals(-span, span, places=size.exponent + 2).map(float),
            st.just(float(Decimal(k) * size.decimal)),
            st.just(float((Decimal(k) + Decimal("0.5")) * size.decimal)),
        )
    )
    return tick, price


@settings(max_examples=500, deadline=None)
@given(tick_and_price(), st.sampled_from(MODES))
def test_property_matches_oracle(case: tuple[float | int, float], mode: str) -> None:
    tick, price = case
    want = oracle_align(price, tick, mode)
    got = align_price(price, tick, mode)
    assert str(got) == str(want)
    assert same_float(align_price_float(price, tick, mode), float(want))
    assert price_to_ticks(price, tick, mode) == int(oracle_ticks(price, tick, mode))


@settings(max_examples=300, deadline=None)
@given(tick_and_price())
def test_property_grid_idempotent_bracketed(case: tuple[float | int, float]) -> None:
    tick, price = case
    size = TickSize(tick)
    exact = Decimal(repr(price))
    aligned = size.align(price)
    assert size.align(aligned) == aligned and str(size.align(aligned)) == str(aligned)
    assert size.align_float(size.align_float(price)) == size.align_float(price)
    assert size.is_aligned(aligned)
    assert size.to_ticks(aligned) * size.decimal == aligned
    assert abs(aligned - exact) <= size.decimal / 2
    low, high = size.align(price, "floor"), size.align(price, "ceil")
    assert low <= exact <= high
    assert high - low == (0 if size.is_aligned(price) else size.decimal)
    assert aligned in (low, high)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(TICKS),
    st.lists(st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False), max_size=50),
    st.sampled_from(MODES),
)
def test_property_batch_equals_scalar(tick: float | int, prices: list[float], mode: str) -> None:
    size = TickSize(tick)
    scalar = [size.align_float(p, mode) for p in prices]
    assert bits(size.align_array(prices, mode)).tolist() == bits(scalar).tolist()
    assert size.to_ticks_array(prices, mode).tolist() == [size.to_ticks(p, mode) for p in prices]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(TICKS), st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False))
def test_property_input_kinds_agree(tick: float | int, price: float) -> None:
    text = repr(price)
    want = str(align_price(price, tick))
    assert str(align_price(text, tick)) == want
    assert str(align_price(Decimal(text), tick)) == want
    assert str(align_price(price, repr(tick))) == want


# --- order_manager.utils ------------------------------------------------------------------


class FakeClient:
    """get_instrument by symbol or contract id, counting lookups."""

    def __init__(self, tick: float | None) -> None:
        self.tick = tick
        self.lookups = 0

    async def get_instrument(self, symbol: str) -> Instrument | None:
        self.lookups += 1
        if symbol == "UNKNOWN":
            raise ProjectXError(f"Instrument not found: {symbol}")
        if self.tick is None:
            return None
        return Instrument(
            id="CON.F.US.M6E.Z25",
            name="M6EZ5",
            description="Micro EUR/USD",
            tickSize=self.tick,
            tickValue=1.25,
            activeContract=True,
        )


@pytest.fixture(autouse=True)
def _fresh_tick_cache() -> None:
    utils.clear_tick_size_cache()


def test_utils_sync_align() -> None:
    assert utils.align_price_to_tick(2052.17, 0.25) == 2052.25
    assert utils.align_price_to_tick(1.08765, 5e-05) == 1.08765
    with pytest.raises(ValueError, match=r"Invalid tick size 0: must be > 0"):
        utils.align_price_to_tick(2052.17, 0)


@pytest.mark.both_loops
async def test_utils_async_align_exponent_tick() -> None:
    client = FakeClient(5e-05)
    assert await utils.align_price_to_tick_size(1.08765, "M6E", client) == 1.08765
    assert await utils.align_price_to_tick_size(1.087651, "M6E", client) == 1.08765
    assert await utils.align_price_to_tick_size(None, "M6E", client) is None
    assert client.lookups == 1  # cached per contract id
    utils.clear_tick_size_cache()
    assert await utils.align_price_to_tick_size(Decimal("1.087676"), "M6E", client) == 1.0877
    assert client.lookups == 2


@pytest.mark.both_loops
async def test_utils_async_align_bad_instrument() -> None:
    with pytest.raises(ProjectXOrderError, match=r"Invalid tick size None for X"):
        await utils.align_price_to_tick_size(1.0, "X", FakeClient(None))
    with pytest.raises(ProjectXOrderError, match=r"Invalid tick size 0\.0 for X"):
        await utils.align_price_to_tick_size(1.0, "X", FakeClient(0.0))
    with pytest.raises(ProjectXError, match="Instrument not found"):
        await utils.align_price_to_tick_size(1.0, "UNKNOWN", FakeClient(0.25))


@pytest.mark.both_loops
async def test_utils_validate() -> None:
    client = FakeClient(0.25)
    await utils.validate_price_tick_size(2052.25, "MNQ", client, "limit_price")
    await utils.validate_price_tick_size(None, "MNQ", client)
    with pytest.raises(ProjectXOrderError) as caught:
        await utils.validate_price_tick_size(2052.17, "MNQ", client, "limit_price")
    assert str(caught.value) == (
        "limit_price 2052.17 is not aligned to tick size 0.25 for MNQ. "
        "Valid prices near this value: 2052.0, 2052.25"
    )
    with pytest.raises(ProjectXOrderError, match=r"^price -1\.1 .* -1\.25, -1\.0$"):
        await utils.validate_price_tick_size(-1.1, "MNQ", client)


@pytest.mark.both_loops
async def test_utils_resolve_contract_id() -> None:
    assert await utils.resolve_contract_id("M6E", FakeClient(5e-05)) == {
        "id": "CON.F.US.M6E.Z25",
        "name": "M6EZ5",
        "tickSize": 5e-05,
        "tickValue": 1.25,
        "activeContract": True,
    }
    assert await utils.resolve_contract_id("M6E", FakeClient(None)) is None
    assert await utils.resolve_contract_id("UNKNOWN", FakeClient(0.25)) is None


def test_module_exports() -> None:
    assert set(_ticks.__all__) <= set(dir(_ticks))
    assert set(utils.__all__) <= set(dir(utils))
