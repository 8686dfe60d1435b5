"""Where to connect and who to log in as.

Endpoints default to the TopstepX hosts and can be overridden from the
environment (``PROJECTX_API_URL``, ``PROJECTX_USER_HUB_URL``,
``PROJECTX_MARKET_HUB_URL``, ...).  Unlike project-x-py, whose
``TradingSuite.create`` ignores those variables, pxfast honours them
everywhere, which is how a bot is pointed at the simulator without code
changes.  Credentials come from ``PROJECT_X_USERNAME``, ``PROJECT_X_API_KEY``
and optionally ``PROJECT_X_ACCOUNT_NAME``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from pxfast.models import ProjectXConfig

__all__ = [
    "ConfigManager",
    "Credentials",
    "MissingCredentialsError",
    "ProjectXConfig",
    "credentials_from_env",
    "load_default_config",
]

#: Environment variable -> ProjectXConfig field.
ENV_FIELDS: dict[str, str] = {
    "PROJECTX_API_URL": "api_url",
    "PROJECTX_REALTIME_URL": "realtime_url",
    "PROJECTX_USER_HUB_URL": "user_hub_url",
    "PROJECTX_MARKET_HUB_URL": "market_hub_url",
    "PROJECTX_TIMEZONE": "timezone",
    "PROJECTX_TIMEOUT_SECONDS": "timeout_seconds",
    "PROJECTX_RETRY_ATTEMPTS": "retry_attempts",
    "PROJECTX_RETRY_DELAY_SECONDS": "retry_delay_seconds",
    "PROJECTX_REQUESTS_PER_MINUTE": "requests_per_minute",
    "PROJECTX_BURST_LIMIT": "burst_limit",
}

SIMULATOR_HINT = (
    "To try pxfast without an account, run `pxfast demo`, or start the embedded "
    "Gateway simulator with `pxfast sim` and export the lines it prints."
)


class MissingCredentialsError(ValueError):
    """No usable credentials in the environment (a ValueError, as in project-x-py)."""


@dataclass(frozen=True)
class Credentials:
    """A login; the API key never appears in the repr."""

    username: str
    api_key: str
    account_name: str | None = None

    def __repr__(self) -> str:
        return (
            f"Credentials(username={self.username!r}, api_key='***', "
            f"account_name={self.account_name!r})"
        )


def credentials_from_env(account_name: str | None = None) -> Credentials:
    """Read the login from ``PROJECT_X_*``; a clear error says what to set, or how to simulate."""
    username = os.environ.get("PROJECT_X_USERNAME", "").strip()
    api_key = os.environ.get("PROJECT_X_API_KEY", "").strip()
    missing = [
        name
        for name, value in (("PROJECT_X_USERNAME", username), ("PROJECT_X_API_KEY", api_key))
        if not value
    ]
    if missing:
        raise MissingCredentialsError(
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set. "
            "To trade, export PROJECT_X_USERNAME and PROJECT_X_API_KEY (and optionally "
            f"PROJECT_X_ACCOUNT_NAME). {SIMULATOR_HINT}"
        )
    if len(api_key) < 10:
        raise MissingCredentialsError(
            "Invalid PROJECT_X_API_KEY format - must be a string of at least 10 characters. "
            + SIMULATOR_HINT
        )
    name = account_name or os.environ.get("PROJECT_X_ACCOUNT_NAME") or None
    return Credentials(username, api_key, name.upper() if name else None)


def _coerce(field_type: Any, text: str) -> Any:
    if field_type in (int, "int"):
        return int(text)
    if field_type in (float, "float"):
        return float(text)
    return text


def load_default_config(env: dict[str, str] | None = None) -> ProjectXConfig:
    """``ProjectXConfig`` defaults with every ``PROJECTX_*`` override applied."""
    source = os.environ if env is None else env
    types = {f.name: f.type for f in fields(ProjectXConfig)}
    values: dict[str, Any] = {}
    for var, name in ENV_FIELDS.items():
        text = source.get(var)
        if text:
            try:
                values[name] = _coerce(types[name], text.strip())
            except ValueError:
                raise ValueError(f"{var}={text!r} is not a valid {types[name]}") from None
    return ProjectXConfig(**values)


class ConfigManager:
    """project-x-py's config loader: a JSON file (optional) overlaid by the environment."""

    def __init__(self, config_file: str | Path | None = None) -> None:
        self.config_file = Path(config_file) if config_file else None

    def load_config(self) -> ProjectXConfig:
        values: dict[str, Any] = {}
        if self.config_file is not None and self.config_file.exists():
            known = {f.name for f in fields(ProjectXConfig)}
            data = json.loads(self.config_file.read_text())
            values.update({k: v for k, v in data.items() if k in known})
        base = ProjectXConfig(**values)
        env = load_default_config()
        defaults = ProjectXConfig()
        for f in fields(ProjectXConfig):
            if getattr(env, f.name) != getattr(defaults, f.name):
                setattr(base, f.name, getattr(env, f.name))
        return base

    def get_auth_config(self) -> dict[str, str]:
        creds = credentials_from_env()
        return {"username": creds.username, "api_key": creds.api_key}
