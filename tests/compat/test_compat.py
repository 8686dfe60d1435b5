"""``pxfast.compat``: ``project_x_py`` names resolve to pxfast's own module objects.

In process: every module a bot or the guide imports maps one to one onto the
pxfast module (the same object, so ``isinstance`` and ``except`` work across
the two names); what pxfast leaves out fails loudly; ``install`` is
idempotent and ``uninstall`` undoes it.  As a runner: ``python -m
pxfast.compat`` gives a script ``__main__`` semantics, its ``sys.argv`` and
``sys.path[0]``, and passes its exit status through.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest

import pxfast
import pxfast.compat

#: The modules the guide and real bots import (api-surface §1 and §2).
MODULES = [
    "",
    ".client",
    ".config",
    ".event_bus",
    ".exceptions",
    ".models",
    ".types",
    ".types.trading",
    ".order_manager",
    ".order_manager.templates",
    ".order_manager.utils",
    ".order_templates",
    ".order_tracker",
    ".position_manager",
    ".realtime",
    ".realtime_data_manager",
    ".risk_manager",
    ".trading_suite",
    ".utils",
]


@pytest.fixture
def compat() -> Iterator[None]:
    pxfast.compat.install()
    yield
    pxfast.compat.uninstall()


@pytest.mark.parametrize("suffix", MODULES)
def test_module_is_the_pxfast_module(compat: None, suffix: str) -> None:
    aliased = importlib.import_module(f"project_x_py{suffix}")
    assert aliased is importlib.import_module(f"pxfast{suffix}")
    assert sys.modules[f"project_x_py{suffix}"] is aliased


def test_classes_are_shared_across_both_names(compat: None) -> None:
    from project_x_py import EventType, OrderStatus, TradingSuite
    from project_x_py.exceptions import ProjectXError, ProjectXOrderError
    from project_x_py.models import Order
    from project_x_py.order_manager.templates import OrderTemplate

    import pxfast.exceptions
    import pxfast.order_templates
    from pxfast.models import Order as PxOrder

    assert TradingSuite is pxfast.TradingSuite
    assert EventType.ORDER_UPDATED is pxfast.EventType.ORDER_UPDATED
    assert OrderStatus.FILLED == "FILLED" and OrderStatus.FILLED == 2
    assert OrderTemplate is pxfast.order_templates.OrderTemplate
    order = PxOrder(1, 2, "CON.F.US.MNQ.Z25", "2025-01-01T00:00:00+00:00", None, 2, 1, 0, 1)
    assert isinstance(order, Order)
    with pytest.raises(ProjectXError):
        raise pxfast.exceptions.ProjectXRiskViolationError(["too big"])
    try:
        raise pxfast.exceptions.ProjectXInsufficientMarginError("Insufficient funds.")
    except ProjectXOrderError as exc:
        assert str(exc) == "Insufficient funds."


def test_top_level_exports(compat: None) -> None:
    import project_x_py

    for name in (
        "TradingSuite",
        "TradingSuiteConfig",
        "Features",
        "EventType",
        "EventBus",
        "ProjectX",
        "ProjectXRealtimeClient",
        "OrderManager",
        "PositionManager",
        "RealtimeDataManager",
        "OrderTemplate",
        "round_to_tick_size",
        "OrderSide",
        "OrderStatus",
        "OrderType",
        "PositionType",
        "Order",
        "Position",
        "BracketOrderResponse",
        "OrderPlaceResponse",
        "ProjectXOrderError",
        "OrderSubmissionUncertainError",
        "ProjectXRateLimitError",
    ):
        assert getattr(project_x_py, name) is not None, name
        assert name in dir(project_x_py), name


@pytest.mark.parametrize(
    ("module", "feature"),
    [
        ("project_x_py.indicators", "technical indicators"),
        ("project_x_py.orderbook", "order-book analytics"),
        ("project_x_py.data", "bar storage"),
        ("project_x_py.statistics", "statistics"),
        ("project_x_py.no_such_module", "pxfast has no pxfast.no_such_module"),
    ],
)
def test_missing_modules_fail_loudly(compat: None, module: str, feature: str) -> None:
    with pytest.raises(ModuleNotFoundError, match=feature) as caught:
        importlib.import_module(module)
    assert caught.value.name == module
    assert module in str(caught.value)
    assert module not in sys.modules


@pytest.mark.parametrize("name", ["calculate_rsi", "OrderBook", "MemoryMappedStorage"])
def test_missing_top_level_names_fail_loudly(compat: None, name: str) -> None:
    with pytest.raises(ImportError, match=f"pxfast does not implement project-x-py's {name}"):
        exec(f"from project_x_py import {name}", {})


def test_install_is_idempotent_and_uninstall_undoes_it() -> None:
    pxfast.compat.install()
    pxfast.compat.install()
    try:
        finders = [f for f in sys.meta_path if isinstance(f, pxfast.compat.ProjectXPyAliasFinder)]
        assert len(finders) == 1 and pxfast.compat.installed()
        import project_x_py

        assert project_x_py is pxfast
    finally:
        pxfast.compat.uninstall()
    assert not pxfast.compat.installed()
    assert not [name for name in sys.modules if name.startswith("project_x_py")]
    assert not any(isinstance(f, pxfast.compat.ProjectXPyAliasFinder) for f in sys.meta_path)
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("project_x_py")


def test_install_refuses_when_the_real_library_is_loaded() -> None:
    impostor = ModuleType("project_x_py")
    sys.modules["project_x_py"] = impostor
    try:
        with pytest.raises(RuntimeError, match="the real project_x_py is already imported"):
            pxfast.compat.install()
        assert not pxfast.compat.installed()
    finally:
        del sys.modules["project_x_py"]


def test_utils() -> None:
    from pxfast.utils import extract_symbol_from_contract_id, round_to_tick_size

    # Ties to even, computed on the decimal values (project-x-py's float math gives 2050.3).
    assert round_to_tick_size(2050.35, 0.1) == 2050.4
    assert round_to_tick_size(20052.125, 0.25) == 20052.0
    assert round_to_tick_size(2.5, 1) == 2.0
    assert round_to_tick_size(Decimal("3.5"), 1) == 4.0
    assert round_to_tick_size(2050.37, 0.1) == 2050.4
    with pytest.raises(ValueError, match="tick_size must be positive"):
        round_to_tick_size(100.0, 0)
    with pytest.raises(ValueError, match="price cannot be negative"):
        round_to_tick_size(-1.0, 0.25)
    assert extract_symbol_from_contract_id("CON.F.US.MGC.M25") == "MGC"
    assert extract_symbol_from_contract_id("MNQ") == "MNQ"
    assert extract_symbol_from_contract_id("CON.F.US.MNQ") is None
    assert extract_symbol_from_contract_id("") is None


# -- the runner --------------------------------------------------------------------------


def run_script(tmp_path: Path, body: str, *args: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "bot.py"
    script.write_text(textwrap.dedent(body))
    return subprocess.run(
        [sys.executable, "-m", "pxfast.compat", str(script), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path.parent,
    )


def test_runner_gives_main_semantics(tmp_path: Path) -> None:
    (tmp_path / "helper.py").write_text("VALUE = 'beside the bot'\n")
    done = run_script(
        tmp_path,
        """
        import sys
        import helper  # found next to the script, as with `python bot.py`
        import pxfast
        import pxfast.compat
        import project_x_py
        from project_x_py import TradingSuite
        pxfast.compat.install()  # a bot that installs it itself: still one finder
        finders = [f for f in sys.meta_path
                   if type(f).__name__ == "ProjectXPyAliasFinder"]
        assert project_x_py is pxfast and len(finders) == 1, finders
        print(__name__, sys.argv[1:], helper.VALUE, TradingSuite.__module__)
        sys.exit(3)
        """,
        "--flag",
        "value",
    )
    assert done.stdout.strip() == (
        "__main__ ['--flag', 'value'] beside the bot pxfast.trading_suite"
    ), done.stderr
    assert done.returncode == 3


def test_runner_propagates_failures(tmp_path: Path) -> None:
    done = run_script(tmp_path, "raise RuntimeError('bot crashed')\n")
    assert done.returncode == 1
    assert "RuntimeError: bot crashed" in done.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "pxfast.compat", str(tmp_path / "absent.py")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2 and "can't open file" in missing.stderr
    usage = subprocess.run(
        [sys.executable, "-m", "pxfast.compat"], capture_output=True, text=True, timeout=60
    )
    assert usage.returncode == 2 and "usage:" in usage.stderr


def test_runner_runs_a_module(tmp_path: Path) -> None:
    package = tmp_path / "botpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "run.py").write_text(
        "import sys\nfrom project_x_py import EventType\n"
        "print(__name__, sys.argv[1:], EventType.ORDER_UPDATED.value, sep='|')\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "pxfast.compat", "-m", "botpkg.run", "x"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "__main__|['x']|order_updated"
