"""Settings in TOML, XDG paths and environment overrides.

The file is optional: every key has a default. A bad file is reported in
one line naming the file, the key and the problem (``ConfigError``).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from core.store.db import create_private_file


class ConfigError(Exception):
    """A problem in the settings file, worded as 'file: [section] key: problem'."""


@dataclass(frozen=True)
class Option:
    default: Any
    help: str
    choices: tuple[str, ...] = ()


# section -> key -> Option. The single description of every setting; the
# default file written by `postroom config init` is generated from it.
OPTIONS: dict[str, dict[str, Option]] = {
    "engine": {
        "retry_initial_seconds": Option(300, "First wait after a temporary failure."),
        "retry_multiplier": Option(2.0, "Each later wait is the previous one times this."),
        "retry_max_seconds": Option(4000, "Longest wait between two attempts."),
        "retry_jitter": Option(0.2, "Random spread added to each wait (fraction)."),
        "give_up_after_seconds": Option(
            5 * 86400, "A deferred message older than this fails for good."
        ),
        "unknown_outcome": Option(
            "ask",
            "What to do with messages whose outcome a crash left unknown.",
            ("ask", "resend", "mark_sent"),
        ),
        "connection_idle_seconds": Option(30, "Close an SMTP connection idle this long."),
        "smtp_timeout_seconds": Option(60, "Give up on an SMTP reply after this long."),
        "commit_interval_ms": Option(20, "Outcomes are committed in groups this often."),
    },
    "providers": {
        "enabled": Option(
            False,
            "Cap messages per second per recipient provider, grouped by MX host (each "
            "recipient domain's MX is looked up once): domains served by Google's MX share "
            "the google cap, and so on. A rate of 0 means no cap for that group.",
        ),
        "google_rate": Option(100.0, "Messages per second to domains whose MX is Google's."),
        "microsoft_rate": Option(
            100.0, "Messages per second to Microsoft's MX (Outlook.com, Microsoft 365)."
        ),
        "yahoo_rate": Option(100.0, "Messages per second to Yahoo's MX (incl. AOL)."),
        "icloud_rate": Option(100.0, "Messages per second to iCloud's MX."),
        "other_rate": Option(
            100.0, "Messages per second to any other MX host (a budget per primary MX)."
        ),
    },
    "unsubscribe": {
        "base_url": Option(
            "https://lists.example.com/u",
            "Public HTTPS address of `postroom unsubscribe-server` (behind your TLS proxy).",
        ),
        "mailto": Option("", "Address for mailto: unsubscribes (optional)."),
    },
    "checks": {
        "bulk_threshold": Option(5000, "Audience size at which the bulk-sender rules apply."),
    },
    "console": {
        "refresh_hz": Option(4, "How often live views refresh (1-10)."),
        "mouse": Option(False, "Enable mouse support in the console."),
    },
}


def xdg_data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def xdg_config_home() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")


def data_dir() -> Path:
    return xdg_data_home() / "postroom"


def default_db_path() -> Path:
    """``$POSTROOM_DB``, else ``$XDG_DATA_HOME/postroom/postroom.db``."""
    env = os.environ.get("POSTROOM_DB")
    return Path(env) if env else data_dir() / "postroom.db"


def default_config_path() -> Path:
    env = os.environ.get("POSTROOM_CONFIG")
    return Path(env) if env else xdg_config_home() / "postroom" / "config.toml"


@dataclass
class Config:
    path: Path | None = None
    values: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            section: {key: option.default for key, option in options.items()}
            for section, options in OPTIONS.items()
        }
    )

    def get(self, section: str, key: str) -> Any:
        return self.values[section][key]


def _check(path: Path, section: str, key: str, value: Any) -> Any:
    option = OPTIONS[section][key]
    expected = type(option.default)
    where = f"{path}: [{section}] {key}"
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if type(value) is not expected:
        raise ConfigError(f"{where}: expected {expected.__name__}, got {value!r}")
    if option.choices and value not in option.choices:
        raise ConfigError(f"{where}: must be one of {', '.join(option.choices)}, got {value!r}")
    if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
        raise ConfigError(f"{where}: must not be negative, got {value!r}")
    return value


def load_config(path: Path | None = None) -> Config:
    """Read settings from ``path`` (default: XDG/env); a missing file means defaults."""
    path = path or default_config_path()
    config = Config(path=path)
    if not path.exists():
        return config
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None
    for section, table in data.items():
        if section not in OPTIONS:
            raise ConfigError(f"{path}: [{section}]: unknown section")
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: {section}: expected a [{section}] table")
        for key, value in table.items():
            if key not in OPTIONS[section]:
                raise ConfigError(f"{path}: [{section}] {key}: unknown key")
            config.values[section][key] = _check(path, section, key, value)
    return config


def default_config_text() -> str:
    """The default settings file, every key commented with what it does."""
    lines = ["# Postroom settings. Every key is optional; these are the defaults.", ""]
    for section, options in OPTIONS.items():
        lines.append(f"[{section}]")
        for key, option in options.items():
            lines.append(f"# {option.help}")
            if option.choices:
                lines.append(f"# One of: {', '.join(option.choices)}.")
            lines.append(tomli_w.dumps({key: option.default}).strip())
        lines.append("")
    return "\n".join(lines)


def write_default_config(path: Path, *, force: bool = False) -> None:
    if path.exists() and not force:
        raise ConfigError(f"{path}: already exists (use --force to overwrite)")
    create_private_file(path)
    path.write_text(default_config_text(), encoding="utf-8")
    os.chmod(path, 0o600)
