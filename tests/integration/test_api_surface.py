"""What pxfast does not implement fails early and says so; what it does, works.

A feature flag pxfast lacks must stop ``TradingSuite.create`` before any
network I/O (not leave ``suite.orderbook`` as ``None`` for the bot to trip on
later), and any project-x-py name pxfast lacks must fail at import with a
message that names it.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import pxfast.compat
from pxfast.event_bus import Event, EventType
from pxfast.exceptions import ProjectXError
from pxfast.models import ProjectXConfig
from pxfast.reference import ReferenceUnavailable, ensure_reference_venv, find_python312
from pxfast.sim import GatewaySimulator
from pxfast.trading_suite import FeatureNotImplementedError, Features, TradingSuite

MakeSimulator = Callable[..., Awaitable[GatewaySimulator]]
SYMBOL = "MNQ"
KEY = "sim-key-0000000"


def _counting_connections(gw: GatewaySimulator) -> list[object]:
    """Every connection the simulator accepts from now on."""
    opened: list[object] = []
    original = gw.connection_opened

    def record(protocol: Any) -> None:
        opened.append(protocol)
        original(protocol)

    gw.connection_opened = record  # type: ignore[method-assign]
    return opened


async def _create(gw: GatewaySimulator, **options: Any) -> TradingSuite:
    gw.add_user("dora", KEY)
    config = ProjectXConfig(
        api_url=gw.api_url, user_hub_url=gw.user_hub_url, market_hub_url=gw.market_hub_url
    )
    return await TradingSuite.create(
        SYMBOL, username="dora", api_key=KEY, client_config=config, initial_days=1, **options
    )


@pytest.mark.parametrize("flag", ["orderbook", Features.ORDERBOOK])
async def test_orderbook_feature_fails_at_create_before_any_network_io(
    make_simulator: MakeSimulator, flag: str | Features
) -> None:
    gw = await make_simulator()
    opened = _counting_connections(gw)
    with pytest.raises(FeatureNotImplementedError) as caught:
        await _create(gw, features=["risk_manager", flag])
    message = str(caught.value)
    assert "orderbook" in message and "market_depth=True" in message
    assert isinstance(caught.value, ProjectXError)
    assert opened == []


async def test_flags_without_effect_are_accepted_with_a_warning(
    make_simulator: MakeSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    gw = await make_simulator()
    opened = _counting_connections(gw)
    flags = ["trade_journal", "auto_reconnect", "performance_analytics", "risk_manager"]
    suite = await _create(gw, features=flags)
    try:
        assert suite.is_connected and suite.risk_manager is not None and opened
        warned = {r.getMessage().split()[1] for r in caplog.records if "no effect" in r.message}
        assert warned == {"trade_journal", "auto_reconnect", "performance_analytics"}
    finally:
        await suite.disconnect()


async def test_market_depth_delivers_depth_events_without_an_order_book(
    make_simulator: MakeSimulator,
) -> None:
    gw = await make_simulator()
    suite = await _create(gw, market_depth=True)
    try:
        got: asyncio.Queue[Event] = asyncio.Queue()
        await suite.on(EventType.MARKET_DEPTH_UPDATE, got.put)
        gw.publish_depth_snapshot(SYMBOL, levels=3)
        event = await asyncio.wait_for(got.get(), 10)
        assert event.data["entries"]
        assert suite.orderbook is None
    finally:
        await suite.disconnect()


# ------------------------------------------------------------ import surface

# Lists every public module of the installed project-x-py with its ``__all__``.
_LIST_REFERENCE = """
import contextlib, importlib, io, json, pkgutil
import project_x_py
found = {"project_x_py": list(project_x_py.__all__)}
for info in pkgutil.walk_packages(project_x_py.__path__, "project_x_py."):
    if any(part.startswith("_") for part in info.name.split(".")):
        continue
    with contextlib.redirect_stdout(io.StringIO()):
        module = importlib.import_module(info.name)
    names = getattr(module, "__all__", None)
    if names:
        found[info.name] = list(names)
print(json.dumps(found))
"""

# Under pxfast.compat, tries ``from MODULE import NAME`` for each; prints the failures.
_TRY_UNDER_COMPAT = """
import json, sys
import pxfast.compat
pxfast.compat.install()
surface = json.loads(sys.stdin.read())
outcome = {}
for module, names in surface.items():
    for name in names:
        try:
            exec(f"from {module} import {name}", {})
        except ImportError as exc:
            outcome[f"{module}:{name}"] = [type(exc).__name__, str(exc)]
print(json.dumps(outcome))
"""


@pytest.fixture(scope="module")
def run_reference() -> Callable[[str], Any]:
    """``run_reference(code)``: the JSON that ``code`` prints under project-x-py 4.4.1."""
    try:
        python = ensure_reference_venv()
    except ReferenceUnavailable as exc:
        if find_python312() is None:
            pytest.skip(f"project-x-py 4.4.1 needs Python 3.12, none found here: {exc}")
        raise

    def run(code: str) -> Any:
        done = subprocess.run(
            [str(python), "-c", code], capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    return run


@pytest.fixture(scope="module")
def reference_surface(run_reference: Callable[[str], Any]) -> dict[str, list[str]]:
    surface: dict[str, list[str]] = run_reference(_LIST_REFERENCE)
    return surface


def test_every_project_x_py_name_imports_or_says_what_is_missing(
    reference_surface: dict[str, list[str]],
) -> None:
    assert len(reference_surface["project_x_py"]) > 50  # the real package was listed
    done = subprocess.run(
        [sys.executable, "-c", _TRY_UNDER_COMPAT],
        input=json.dumps(reference_surface),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    failures: dict[str, list[str]] = json.loads(done.stdout.strip().splitlines()[-1])
    unexplained = []
    for key, (kind, message) in failures.items():
        module, name = key.split(":")
        if kind == "ModuleNotFoundError":
            # A module pxfast leaves out entirely: the message names it or its package.
            parts = module.split(".")
            explained = any(".".join(parts[:i]) in message for i in range(2, len(parts) + 1))
        else:
            explained = name in message and "cannot import name" not in message
        if not explained:
            unexplained.append(f"{key}: {kind}: {message}")
    assert unexplained == []
    # The names pxfast answers for must be names project-x-py really has.
    for suffix, names in pxfast.compat.MISSING_NAMES.items():
        module = "project_x_py" + (f".{suffix}" if suffix else "")
        assert set(names) <= set(reference_surface[module]), module
        assert all(f"{module}:{name}" in failures for name in names), module


def test_missing_name_error_names_the_name_and_what_to_use() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import pxfast.compat; pxfast.compat.install()\n"
            "try:\n"
            "    from project_x_py.utils import format_price\n"
            "except ImportError as exc:\n"
            "    print(type(exc).__name__, exc)\n",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.startswith("MissingNameError project_x_py.utils.format_price "), done
    assert "f-strings" in done.stdout


def test_uninstall_restores_the_modules_own_getattr() -> None:
    import pxfast
    import pxfast.utils

    own = pxfast.__dict__["__getattr__"]
    pxfast.compat.install()
    try:
        with pytest.raises(pxfast.compat.MissingNameError, match="RateLimiter"):
            exec("from project_x_py import RateLimiter", {})
        with pytest.raises(pxfast.compat.MissingNameError, match="format_price"):
            exec("from project_x_py.utils import format_price", {})
    finally:
        pxfast.compat.uninstall()
    assert pxfast.__dict__["__getattr__"] is own
    assert "__getattr__" not in vars(pxfast.utils)


# --------------------------------------------- setup_logging, config types, from_config

_LOGGING_UNDER_COMPAT = """
import logging, sys
import pxfast.compat
pxfast.compat.install()
from project_x_py import setup_logging
from project_x_py.utils import setup_logging as same
assert same is setup_logging
logger = setup_logging(level="debug", format_string="%(name)s|%(message)s", filename=sys.argv[1])
assert logging.getLogger().level == logging.DEBUG
logger.info("from the bot")
logging.getLogger("websockets.client").debug(
    "> GET /hubs/user?access_token=%s HTTP/1.1", "eyJhbGciOi.SECRETJWT.sig"
)
logging.getLogger("pxfast.client").debug('{"apiKey": "SECRETKEY123"}')
try:
    setup_logging(level="LOUD")
except AttributeError:
    print("unknown level refused")
"""


def test_setup_logging_configures_like_project_x_py_and_never_logs_secrets(
    tmp_path: Any,
) -> None:
    log = tmp_path / "bot.log"
    done = subprocess.run(
        [sys.executable, "-c", _LOGGING_UNDER_COMPAT, str(log)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "unknown level refused"
    lines = log.read_text().splitlines()
    assert lines[0] == "pxfast|from the bot"
    assert lines[1] == "websockets.client|> GET /hubs/user?access_token=*** HTTP/1.1"
    assert lines[2].startswith("pxfast.client|") and "***" in lines[2]
    assert "SECRET" not in log.read_text()


# Each config type of project-x-py: its keys and which of them are required.
_REFERENCE_CONFIG_KEYS = """
import dataclasses, json
from project_x_py.types import config_types
out = {}
for name in config_types.__all__:
    cls = getattr(config_types, name)
    if dataclasses.is_dataclass(cls):
        out[name] = [sorted(f.name for f in dataclasses.fields(cls)), []]
    else:
        out[name] = [sorted(cls.__annotations__), sorted(cls.__required_keys__)]
print(json.dumps(out))
"""


def test_config_types_have_project_x_py_keys(run_reference: Callable[[str], Any]) -> None:
    import dataclasses

    import pxfast
    import pxfast.types
    from pxfast.types import config_types

    reference: dict[str, list[list[str]]] = run_reference(_REFERENCE_CONFIG_KEYS)
    assert sorted(config_types.__all__) == sorted(reference)
    for name, (keys, required) in reference.items():
        cls = getattr(config_types, name)
        if dataclasses.is_dataclass(cls):
            ours = [sorted(f.name for f in dataclasses.fields(cls)), []]
        else:
            ours = [sorted(cls.__annotations__), sorted(cls.__required_keys__)]
        assert ours == [keys, required], name
    assert pxfast.types.DataManagerConfig is config_types.DataManagerConfig
    assert pxfast.PositionManagerConfig is config_types.PositionManagerConfig


async def test_from_config_takes_project_x_py_keyword(
    make_simulator: MakeSimulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    gw = await make_simulator()
    gw.add_user("erin", KEY)
    monkeypatch.setenv("PROJECTX_API_URL", gw.api_url)
    monkeypatch.setenv("PROJECTX_USER_HUB_URL", gw.user_hub_url)
    monkeypatch.setenv("PROJECTX_MARKET_HUB_URL", gw.market_hub_url)
    monkeypatch.setenv("PROJECT_X_USERNAME", "erin")
    monkeypatch.setenv("PROJECT_X_API_KEY", KEY)
    path = tmp_path / "suite.json"
    path.write_text(json.dumps({"instrument": SYMBOL, "timeframes": ["1min"], "initial_days": 1}))
    suite = await TradingSuite.from_config(config_path=str(path))
    try:
        assert suite.is_connected and suite.symbol == SYMBOL
    finally:
        await suite.disconnect()


# ---------------------------------------------------------------- statistics

_REFERENCE_STATS_KEYS = """
import json
from project_x_py.types.stats_types import TradingSuiteStats
print(json.dumps(sorted(TradingSuiteStats.__required_keys__)))
"""


@pytest.fixture(scope="module")
def stats_keys(run_reference: Callable[[str], Any]) -> list[str]:
    keys: list[str] = run_reference(_REFERENCE_STATS_KEYS)
    return keys


async def test_get_stats_has_project_x_py_keys_with_measured_values(
    make_simulator: MakeSimulator, stats_keys: list[str]
) -> None:
    gw = await make_simulator()
    suite = await _create(gw, features=["risk_manager"], timeframes=["1min", "5min"])
    try:
        stats = await suite.get_stats()
        assert set(stats_keys) <= set(stats)
        assert stats["connected"] is True and stats["status"] == "active"
        assert stats["user_hub_connected"] and stats["market_hub_connected"]
        assert stats["realtime_connected"] is True
        assert stats["instrument"] == SYMBOL and stats["timeframes"] == ["1min", "5min"]
        assert stats["features_enabled"] == ["risk_manager"]
        assert stats["total_api_calls"] == suite.client.session.stats.requests > 0
        assert stats["active_subscriptions"] == 1
        assert stats["failed_api_calls"] is None and stats["memory_usage_mb"] is None
        exported = json.loads(await suite.export_stats(pretty=True))
        assert exported["suite_id"] == stats["suite_id"] and "export_timestamp" in exported
        assert KEY not in await suite.export_stats()
        with pytest.raises(ValueError, match="json"):
            await suite.export_stats("prometheus")
    finally:
        await suite.disconnect()
    stats = await suite.get_stats()
    assert stats["connected"] is False and stats["status"] == "disconnected"
    assert stats["active_subscriptions"] == 0
