"""``TradingSuite.from_config`` / ``from_env`` and the helper constructors, on the simulator."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from pxfast.order_tracker import OrderChainBuilder, OrderTracker
from pxfast.risk_manager import ManagedTrade
from pxfast.sim import GatewaySimulator
from pxfast.trading_suite import TradingSuite

pytestmark = pytest.mark.both_loops


@pytest.fixture
def sim_env(simulator: GatewaySimulator, monkeypatch: pytest.MonkeyPatch) -> GatewaySimulator:
    monkeypatch.setenv("PROJECTX_API_URL", simulator.api_url)
    monkeypatch.setenv("PROJECTX_USER_HUB_URL", simulator.user_hub_url)
    monkeypatch.setenv("PROJECTX_MARKET_HUB_URL", simulator.market_hub_url)
    monkeypatch.setenv("PROJECT_X_USERNAME", "carol")
    monkeypatch.setenv("PROJECT_X_API_KEY", "sim-key-0000000")
    return simulator


async def test_from_config_json_with_overrides(sim_env: GatewaySimulator, tmp_path: Path) -> None:
    path = tmp_path / "suite.json"
    path.write_text(
        json.dumps(
            {
                "instrument": "MNQ",
                "timeframes": ["1min"],
                "features": ["risk_manager"],
                "reconcile_window": 3600,
            }
        )
    )
    suite = await TradingSuite.from_config(path, initial_days=1)
    try:
        assert suite.symbol == "MNQ" and suite.config.timeframes == ["1min"]
        assert suite.config.initial_days == 1
        assert suite.realtime.user.window == timedelta(hours=1)
        assert suite.risk_manager is not None
        assert isinstance(suite.track_order(), OrderTracker)
        assert isinstance(suite.order_chain(), OrderChainBuilder)
        trade = suite.managed_trade(max_risk_percent=0.005)
        assert isinstance(trade, ManagedTrade)
        assert (trade.instrument_id, trade.max_risk_percent) == (suite.instrument_id, 0.005)
    finally:
        await suite.disconnect()


async def test_from_env(sim_env: GatewaySimulator) -> None:
    suite = await TradingSuite.from_env("MNQ", timeframes=["5min"], initial_days=1)
    try:
        assert suite.is_connected and suite.instrument_id.startswith("CON.F.US.MNQ.")
        assert suite.client.get_account_info().name.endswith("CAROL-1")
    finally:
        await suite.disconnect()


async def test_from_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Unsupported config format"):
        await TradingSuite.from_config(tmp_path / "suite.toml")
    with pytest.raises(FileNotFoundError):
        await TradingSuite.from_config(tmp_path / "missing.json")
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2]")
    with pytest.raises(ValueError, match="mapping"):
        await TradingSuite.from_config(listing)


async def test_yaml_without_pyyaml_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)  # as if PyYAML were not installed
    path = tmp_path / "suite.yaml"
    path.write_text("instrument: MNQ\n")
    with pytest.raises(ImportError, match="PyYAML"):
        await TradingSuite.from_config(path)


async def test_from_config_yaml(sim_env: GatewaySimulator, tmp_path: Path) -> None:
    path = tmp_path / "suite.yml"
    path.write_text("instrument: MNQ\ntimeframes: [1min]\ninitial_days: 1\n")
    suite = await TradingSuite.from_config(path)
    try:
        assert suite.config.timeframes == ["1min"]
    finally:
        await suite.disconnect()
