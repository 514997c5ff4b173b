"""Where signer-tui keeps its files (XDG via platformdirs), in one place.

`SIGNER_TUI_CONFIG` picks the config file. The demo namespaces its state and cache under
`demo` so it never mixes with a real profile's history.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "signer-tui"
CONFIG_ENV = "SIGNER_TUI_CONFIG"


def config_dir() -> Path:
    return platformdirs.user_config_path(APP)


def default_config_file() -> Path:
    return config_dir() / "config.yaml"


def config_file(explicit: str | Path | None = None) -> Path:
    """The config file to read: --config, else $SIGNER_TUI_CONFIG, else the XDG default."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env).expanduser()
    return default_config_file()


def state_dir(namespace: str | None = None) -> Path:
    base = platformdirs.user_state_path(APP)
    return base / namespace if namespace else base


def cache_dir(namespace: str | None = None) -> Path:
    base = platformdirs.user_cache_path(APP)
    return base / namespace if namespace else base
