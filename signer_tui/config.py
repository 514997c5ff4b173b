"""The YAML config: safe-loaded, validated into models, overridable from the environment.

Every problem is reported at once, each with the file, the line where YAML has one, the
dotted path (`signers[1].bitcoind.url`) and a "did you mean" for misspelt keys. Values are
never echoed for secret fields, and URLs are echoed without credentials.

Environment overrides use the prefix `SIGNER_TUI_` and `__` for nesting; list items are
addressed by index or by profile name: `SIGNER_TUI_SIGNERS__MAINNET__DB__HOST=10.0.0.5`.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from signer_tui import format as fmt
from signer_tui import sanitize, sbtc, yamlsafe
from signer_tui.locations import CONFIG_ENV

ENV_PREFIX = "SIGNER_TUI_"

# -- value types ---------------------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


def parse_duration(value: Any) -> float:
    """'15s', '5m', '24h', '7d' or a number of seconds -> seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 15s, 5m, 24h or 7d")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    else:
        raise ValueError("expected a duration such as 15s, 5m, 24h or 7d")
    if not math.isfinite(seconds):
        raise ValueError("a duration must be a finite number such as 15s or 24h")
    if seconds <= 0:
        raise ValueError("a duration must be greater than zero")
    if seconds > MAX_DURATION:
        raise ValueError(f"a duration may be at most {format_duration(MAX_DURATION)}")
    return seconds


# A year bounds every interval and age; a timeout over ten minutes is a mistake, and an
# unbounded one (.inf, 1e308) would overflow the event loop's clock arithmetic.
MAX_DURATION = 366 * 86400.0
MAX_TIMEOUT = 600.0


def _check_timeout(seconds: float) -> float:
    if seconds > MAX_TIMEOUT:
        raise ValueError(f"a timeout may be at most {format_duration(MAX_TIMEOUT)}")
    return seconds


def _not_bool(value: Any) -> Any:
    # pydantic's lax mode reads YAML `true` as 1: a port or a count is never a boolean.
    if isinstance(value, bool):
        raise ValueError("expected a whole number, not true/false")
    return value


def _strings(value: Any) -> Iterator[str]:
    """The strings a field holds itself: a string, a list of strings, or a flat mapping of
    strings (keymap, {file: PATH}); nested models are checked by their own fields."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list | tuple):
        yield from (item for item in value if isinstance(item, str))
    elif isinstance(value, Mapping) and all(isinstance(v, str) for v in value.values()):
        for key, item in value.items():
            yield from (key, item) if isinstance(key, str) else (item,)


# One formatter for the whole console (signer_tui.format); kept here for its importers.
format_duration = fmt.duration


def redact_url(url: str) -> str:
    """Drop any user:password@ part before a URL is shown."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return parts._replace(netloc=f"***@{host}").geturl()


def check_http_url(value: str) -> str:
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError("expected an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("the URL has no host")
    if parts.username or parts.password:
        raise ValueError(
            "credentials do not belong in the URL: use the separate user/password "
            "(or api_key) keys with a {keyring: NAME} reference"
        )
    if port is not None and not 0 < port < 65536:
        raise ValueError("port out of range")
    # Imported here: httpx pulls in its CLI (click, rich), too heavy for `--help`.
    import httpx

    try:
        # What the HTTP client will be handed: anything it refuses is refused here, not later.
        httpx.URL(value)
    except (httpx.InvalidURL, ValueError) as exc:
        raise ValueError(f"not a valid URL ({sanitize.clean_line(str(exc), 100)})") from None
    return value.rstrip("/")


Duration = Annotated[float, BeforeValidator(parse_duration)]
Timeout = Annotated[float, BeforeValidator(parse_duration), AfterValidator(_check_timeout)]
HttpUrl = Annotated[str, AfterValidator(check_http_url)]
Port = Annotated[int, BeforeValidator(_not_bool), Field(ge=1, le=65535)]
Count = Annotated[int, BeforeValidator(_not_bool), Field(ge=0, le=1_000_000)]
Network = Literal["mainnet", "testnet", "regtest"]

# libpq's require_auth: one method list, optionally all negated with "!".
_AUTH_METHOD = r"(?:password|md5|gss|sspi|scram-sha-256|none)"
_REQUIRE_AUTH = rf"^(?:{_AUTH_METHOD}(?:,{_AUTH_METHOD})*|!{_AUTH_METHOD}(?:,!{_AUTH_METHOD})*)$"

_STACKS_ADDRESS = re.compile(r"^S[PMTN][0-9A-HJKMNP-TV-Z]{38,40}$")


class SecretRef(BaseModel):
    """Where a secret lives: `{keyring: NAME}`, `{env: VAR}`, `{file: PATH}`, or plain text.

    Plain text is accepted (and later flagged by the posture checks); its value is never shown.
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["keyring", "env", "file", "plain"]
    name: str

    @model_validator(mode="before")
    @classmethod
    def _from_yaml(cls, value: Any) -> Any:
        if isinstance(value, SecretRef):
            return value
        if isinstance(value, str):
            if not value:
                raise ValueError("empty secret")
            return {"kind": "plain", "name": value}
        if isinstance(value, Mapping):
            if set(value) <= {"kind", "name"} and "kind" in value:
                return value
            keys = [k for k in value if k in ("keyring", "env", "file")]
            if len(value) == 1 and keys:
                kind = keys[0]
                name = value[kind]
                if not isinstance(name, str) or not name.strip():
                    raise ValueError(f"{{{kind}: ...}} needs a non-empty name")
                return {"kind": kind, "name": name.strip()}
        raise ValueError(
            "expected a secret reference: {keyring: NAME}, {env: VARIABLE}, {file: PATH} "
            "or a plain string"
        )

    @model_serializer
    def _serialize(self) -> str:
        return self.display()

    def display(self) -> str:
        if self.kind == "plain":
            return "<plain text in config, hidden>"
        return f"{self.kind}:{self.name}"

    def __repr__(self) -> str:
        return f"SecretRef({self.display()})"

    __str__ = __repr__


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)

    @field_validator("*", mode="before")
    @classmethod
    def _printable(cls, value: Any, info: ValidationInfo) -> Any:
        # A URL, host or name with ESC, a newline or U+202E would reach terminals and HTTP
        # requests as it is; nothing in a config needs such characters.
        field = cls.model_fields.get(info.field_name or "")
        if field is not None and any(m is not SecretRef for m in _unwrap(field.annotation)):
            return value  # a nested model: its own fields say which value is wrong
        for text in _strings(value):
            if not sanitize.is_clean(text) or any(c in text for c in "\n\t"):
                raise ValueError(
                    "contains a control, escape or bidi character (e.g. ESC, a newline, "
                    "U+202E): remove it"
                )
        return value


# -- the config tree -----------------------------------------------------------------------


class SignerApi(StrictModel):
    api_url: HttpUrl = Field("http://127.0.0.1:8801", description="signer API (event observer)")
    metrics_url: HttpUrl | None = Field(
        "http://127.0.0.1:9184/metrics", description="Prometheus metrics; null if disabled"
    )
    timeout: Timeout = 5.0
    # The signer's TOML, for its signer set and threshold (key.signer_set); null: fall back
    # to posture.signer_config, else not compared.
    config_file: Path | None = Field(None, description="the signer's TOML (signing set)")

    @field_validator("config_file")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None


class Database(StrictModel):
    host: str = "127.0.0.1"
    port: Port = 5432
    dbname: str = "signer"
    user: str = "postgres"
    password: SecretRef | None = None
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = "prefer"
    connect_timeout: Timeout = 5.0
    statement_timeout: Timeout = 10.0
    # libpq's require_auth; null: scram-sha-256 whenever a password is configured.
    require_auth: str | None = Field(None, pattern=_REQUIRE_AUTH)
    channel_binding: Literal["disable", "prefer", "require"] | None = None


class Bitcoind(StrictModel):
    url: HttpUrl = "http://127.0.0.1:8332"
    user: str | None = None
    password: SecretRef | None = None
    cookie_file: Path | None = None
    timeout: Timeout = 5.0

    @model_validator(mode="after")
    def _auth(self) -> Bitcoind:
        if self.cookie_file is not None and (self.password is not None or self.user):
            raise ValueError("use either cookie_file or user + password, not both")
        if self.password is not None and not self.user:
            raise ValueError("password is set but user is missing")
        return self


class StacksNode(StrictModel):
    rpc_url: HttpUrl = "http://127.0.0.1:20443"
    timeout: Timeout = 5.0


class ChainApi(StrictModel):
    """An independent, Hiro-style chain API used to cross-check the own node."""

    url: HttpUrl | None = None
    api_key: SecretRef | None = None
    timeout: Timeout = 10.0


class Backups(StrictModel):
    kind: Literal["pg_dump", "pgbackrest", "barman"] = "pg_dump"
    location: Path | None = Field(None, description="directory of pg_dump files")
    stanza: str | None = None
    server: str | None = None
    command: list[str] | None = Field(
        None, description="how to run pgbackrest/barman, e.g. [sudo, -u, postgres, pgbackrest]"
    )
    cadence: Duration = 86400.0

    @model_validator(mode="after")
    def _needs(self) -> Backups:
        if self.kind == "pg_dump" and self.location is None:
            raise ValueError("kind pg_dump needs 'location' (the directory of the dumps)")
        if self.kind == "pgbackrest" and not self.stanza:
            raise ValueError("kind pgbackrest needs 'stanza'")
        if self.kind == "barman" and not self.server:
            raise ValueError("kind barman needs 'server'")
        return self


class PollIntervals(StrictModel):
    nodes: Duration = 15.0
    signer: Duration = 15.0
    signer_info: Duration = 60.0
    key: Duration = 60.0
    database: Duration = 60.0
    backups: Duration = 300.0


class Thresholds(StrictModel):
    backup_max_age: Duration = 26 * 3600.0
    backup_shrink_ratio: float = Field(0.5, gt=0, lt=1)
    backup_history_days: Count = Field(14, ge=1, le=90)
    verification_max_age: Duration = 7 * 86400.0
    max_node_lag_blocks: Count = Field(2)
    max_peer_difference: Count = Field(10)
    stacks_tip_max_age: Duration = 300.0
    bitcoin_tip_max_age: Duration = 2 * 3600.0
    signer_tip_max_lag_blocks: Count = Field(3)
    min_bitcoind_major: Count = Field(25)


class DbHealth(StrictModel):
    """The signer DB as liveness (sBTC #2041/#1888/#1845: slow queries took signers offline)."""

    enabled: bool = True
    hot_query_timeout: Timeout = 2.0  # the bound of each timed SELECT (its own statement_timeout)
    hot_query_warn: Duration = 0.25  # WARN when a hot query takes longer
    hot_query_crit: Duration = 1.0  # CRIT when it takes longer (or hits hot_query_timeout)
    connections_warn_ratio: float = Field(0.8, gt=0, le=1)  # of max_connections
    connections_crit_ratio: float = Field(0.95, gt=0, le=1)
    oldest_xact_warn: Duration = 300.0  # an open transaction holds back vacuum
    oldest_xact_crit: Duration = 3600.0
    growth_warn_per_day: Count = Field(2048, description="MiB a day of database growth")
    # Samples needed before a per-day rate is given (the DB grows with every Stacks block, so
    # a quarter of an hour already shows the trend; UNKNOWN until then).
    growth_min_span: Duration = 900.0

    @model_validator(mode="after")
    def _ordered(self) -> DbHealth:
        if self.hot_query_warn > self.hot_query_crit:
            raise ValueError("hot_query_warn must not exceed hot_query_crit")
        if self.connections_warn_ratio > self.connections_crit_ratio:
            raise ValueError("connections_warn_ratio must not exceed connections_crit_ratio")
        if self.oldest_xact_warn > self.oldest_xact_crit:
            raise ValueError("oldest_xact_warn must not exceed oldest_xact_crit")
        return self


class Posture(StrictModel):
    """Host posture checks (firewall, SSH, secrets, logs) for the host this runs on."""

    enabled: bool = True
    poll: Duration = 300.0
    signer_config: Path | None = Field(None, description="the signer's TOML (private_key)")
    stacks_config: Path | None = Field(None, description="the Stacks node's Config.toml")
    sshd_config: Path = Path("/etc/ssh/sshd_config")
    log_dirs: list[Path] = Field(default_factory=list)
    allowed_ports: list[Port] = Field(default_factory=list)
    signer_process: str = Field("signer", min_length=1, max_length=64)
    min_log_retention: Duration = 90 * 86400.0


_DEFAULT_CHAIN_API = {
    "mainnet": "https://api.hiro.so",
    "testnet": "https://api.testnet.hiro.so",
    "regtest": None,
}


class Profile(StrictModel):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
    network: Network
    deployer: str | None = None
    signer: SignerApi = Field(default_factory=lambda: SignerApi())
    db: Database = Field(default_factory=lambda: Database())
    bitcoind: Bitcoind = Field(default_factory=lambda: Bitcoind())
    stacks: StacksNode = Field(default_factory=lambda: StacksNode())
    chain_api: ChainApi = Field(default_factory=lambda: ChainApi())
    backups: Backups | None = None
    poll: PollIntervals = Field(default_factory=lambda: PollIntervals())
    thresholds: Thresholds = Field(default_factory=lambda: Thresholds())
    posture: Posture = Field(default_factory=lambda: Posture())
    db_health: DbHealth = Field(default_factory=lambda: DbHealth())

    @field_validator("deployer")
    @classmethod
    def _deployer(cls, value: str | None) -> str | None:
        if value is not None and not _STACKS_ADDRESS.match(value):
            raise ValueError("not a Stacks address (expected e.g. SM3VDX...)")
        return value

    @model_validator(mode="after")
    def _network_defaults(self) -> Profile:
        if self.deployer is None:
            self.deployer = sbtc.DEPLOYERS[self.network]
        if self.chain_api.url is None and "url" not in self.chain_api.model_fields_set:
            self.chain_api.url = _DEFAULT_CHAIN_API[self.network]
        return self

    @property
    def registry_deployer(self) -> str:
        return self.deployer or sbtc.DEPLOYERS[self.network]


class Repos(StrictModel):
    sbtc: str = "stacks-sbtc/sbtc"
    stacks_core: str = "stacks-network/stacks-core"
    bitcoin: str = "bitcoin/bitcoin"

    @field_validator("*")
    @classmethod
    def _repo(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", value):
            raise ValueError("expected owner/name")
        return value


class ReleaseFeeds(StrictModel):
    enabled: bool = True
    github_api: HttpUrl = "https://api.github.com"
    osv_api: HttpUrl = "https://api.osv.dev"
    github_token: SecretRef | None = None
    repos: Repos = Field(default_factory=lambda: Repos())
    poll: Duration = 6 * 3600.0
    timeout: Timeout = 15.0


# Textual's ANSI themes use the terminal's own 16 colours: the safe choice on old terminals.
THEMES = (
    "signer-dark",
    "signer-light",
    "ansi-dark",
    "ansi-light",
    "textual-dark",
    "textual-light",
    "nord",
    "gruvbox",
    "solarized-dark",
    "solarized-light",
)

# Binding ids the keymap may override (the UI defines these bindings).
# The console's keymap ids; signer_tui/ui/keys.py (Textual) holds the table they come from
# and tests/tui/test_keys_and_cursor.py keeps the two equal.
KEYMAP_IDS = (
    "quit",
    "evidence",
    "worst",
    "focus-backups",
    "focus-key",
    "focus-nodes",
    "focus-releases",
    "verify-backup",
    "timeline",
    "help",
    "command-palette",
    "refresh",
    "refresh-all",
    "next-profile",
    "previous-profile",
    "runbooks",
    "finding-runbook",
    "copy",
    "incident",
)


class UiSettings(StrictModel):
    theme: Literal[THEMES] = "signer-dark"  # type: ignore[valid-type]
    keymap: dict[str, str] = Field(default_factory=dict)
    mouse: bool = False

    @field_validator("keymap")
    @classmethod
    def _keymap(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if key not in KEYMAP_IDS:
                hint = _suggest(key, KEYMAP_IDS)
                raise ValueError(
                    f"unknown binding id '{key}'" + (f" (did you mean '{hint}'?)" if hint else "")
                )
        return value


class RunbookSettings(StrictModel):
    """Where runs and approvals are recorded: shared by the operators' group (four eyes)."""

    runs_dir: Path | None = Field(
        None, description="shared runs directory (default: the user's state dir, solo use)"
    )
    group: str | None = Field(
        None, description="the operators' group that must own runs_dir (mode 2770)"
    )

    @field_validator("runs_dir")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None


class Settings(StrictModel):
    signers: list[Profile] = Field(min_length=1)
    releases: ReleaseFeeds = Field(default_factory=lambda: ReleaseFeeds())
    ui: UiSettings = Field(default_factory=lambda: UiSettings())
    runbooks: RunbookSettings = Field(default_factory=lambda: RunbookSettings())

    @field_validator("signers")
    @classmethod
    def _unique(cls, value: list[Profile]) -> list[Profile]:
        names = [p.name for p in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"profile names must be unique: {', '.join(dupes)}")
        return value

    def profile(self, name: str | None) -> Profile:
        if name is None:
            return self.signers[0]
        for profile in self.signers:
            if profile.name == name:
                return profile
        raise ConfigError(
            [
                Problem(
                    None,
                    None,
                    "--profile",
                    f"no profile named '{name}' (have: {', '.join(p.name for p in self.signers)})",
                )
            ]
        )

    def secret_refs(self) -> Iterator[tuple[str, SecretRef]]:
        """Every secret reference in the config with its dotted path."""
        yield from _walk_secrets(self, "")


def _walk_secrets(model: BaseModel, prefix: str) -> Iterator[tuple[str, SecretRef]]:
    for name in type(model).model_fields:
        value = getattr(model, name)
        path = f"{prefix}.{name}" if prefix else name
        if isinstance(value, SecretRef):
            yield path, value
        elif isinstance(value, BaseModel):
            yield from _walk_secrets(value, path)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from _walk_secrets(item, f"{path}[{i}]")


# -- problems ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    file: str | None
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file or "environment"
        if self.line:
            where = f"{where}:{self.line}"
        text = f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        # Keys and file names come from the file itself: one clean line for the terminal.
        return sanitize.clean_line(text)


class ConfigError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _suggest(word: str, choices: typing.Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def format_path(loc: typing.Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _unwrap(annotation: Any) -> list[Any]:
    """The model classes reachable from a field annotation (through Optional/list/Annotated)."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType, list):
        found: list[Any] = []
        for arg in typing.get_args(annotation):
            found.extend(_unwrap(arg))
        return found
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return []


def _model_at(loc: typing.Sequence[str | int]) -> type[BaseModel] | None:
    """The model class that holds the last element of `loc`."""
    model: type[BaseModel] = Settings
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        candidates = [m for m in _unwrap(field.annotation) if m is not SecretRef]
        if not candidates:
            return None
        model = candidates[0]
    return model


def _is_secret_field(loc: typing.Sequence[str | int]) -> bool:
    model = _model_at(loc)
    name = next((p for p in reversed(loc) if isinstance(p, str)), None)
    if model is None or name is None or name not in model.model_fields:
        return name in ("password", "api_key", "github_token")
    return SecretRef in _unwrap(model.model_fields[name].annotation)


def _show_value(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return repr(value).lower() if value is not None else "null"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str) and len(value) <= 80:
        return repr(redact_url(value) if "://" in value else value)
    return None


def _message(error: Mapping[str, Any]) -> str:
    loc = [p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
    kind = error["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        model = _model_at(loc)
        hint = _suggest(key, model.model_fields) if model else None
        msg = f"unknown key '{key}'"
        if hint:
            msg += f" (did you mean '{hint}'?)"
        elif model is not None:
            msg += f" (known keys: {', '.join(model.model_fields)})"
        return msg
    if kind == "missing":
        return "required key is missing"
    text = str(error["msg"])
    text = re.sub(r"^(Value error|Assertion failed), ", "", text)
    if kind == "literal_error":
        text = text.replace("Input should be", "expected")
        given = error.get("input")
        if isinstance(given, str):
            hint = _suggest(given, re.findall(r"'([^']*)'", str(error["msg"])))
            if hint:
                return f"{text} (got {given!r}; did you mean '{hint}'?)"
    if not _is_secret_field(loc):
        shown = _show_value(error.get("input"))
        if shown is not None and kind not in ("model_type", "dict_type", "list_type"):
            text += f" (got {shown})"
    return text


# -- YAML with line numbers ----------------------------------------------------------------


def _line_map(node: yaml.Node, path: tuple[str | int, ...], out: dict[str, int]) -> None:
    out.setdefault(format_path(path), node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            out[format_path((*path, key))] = key_node.start_mark.line + 1
            _line_map(value_node, (*path, key), out)
            out[format_path((*path, key))] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_map(item, (*path, i), out)


def _leaf_paths(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[str]:
    if isinstance(value, Mapping) and not (set(value) <= {"keyring", "env", "file"} and value):
        for key, item in value.items():
            yield from _leaf_paths(item, (*path, str(key)))
    elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        for i, item in enumerate(value):
            yield from _leaf_paths(item, (*path, i))
    else:
        yield format_path(path)


# -- environment overrides -----------------------------------------------------------------


def _env_value(raw: str) -> Any:
    stripped = raw.strip()
    if stripped.startswith(("{", "[")):
        try:
            return yaml.safe_load(stripped)
        except yaml.YAMLError:
            return raw
    return raw


def _apply_env(
    data: dict[str, Any], environ: Mapping[str, str], provenance: dict[str, str]
) -> list[Problem]:
    problems: list[Problem] = []
    for var in sorted(environ):
        if not var.startswith(ENV_PREFIX) or var == CONFIG_ENV:
            continue
        parts = [p.lower() for p in var[len(ENV_PREFIX) :].split("__")]
        if not all(parts):
            problems.append(Problem(None, None, var, "empty segment in override name"))
            continue
        node: Any = data
        model: type[BaseModel] | None = Settings
        loc: list[str | int] = []
        ok = True
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, list):
                index = _list_index(node, part)
                if index is None:
                    problems.append(
                        Problem(None, None, var, f"no list item '{part}' at {format_path(loc)}")
                    )
                    ok = False
                    break
                loc.append(index)
                if last:
                    node[index] = _env_value(environ[var])
                else:
                    node = node[index]
                continue
            if model is not None and part not in model.model_fields:
                hint = _suggest(part, model.model_fields)
                problems.append(
                    Problem(
                        None,
                        None,
                        var,
                        f"unknown key '{part}' in override"
                        + (f" (did you mean '{hint}'?)" if hint else ""),
                    )
                )
                ok = False
                break
            loc.append(part)
            if last:
                node[part] = _env_value(environ[var])
                break
            field = model.model_fields[part] if model is not None else None
            inner = [m for m in _unwrap(field.annotation) if m is not SecretRef] if field else []
            model = inner[0] if inner else None
            default: Any = [] if field and typing.get_origin(field.annotation) is list else {}
            if not isinstance(node.get(part), dict | list):
                node[part] = default
            node = node[part]
        if ok:
            provenance[format_path(loc)] = f"env {var}"
    return problems


def _list_index(items: list[Any], part: str) -> int | None:
    if part.isdigit():
        index = int(part)
        return index if index < len(items) else None
    for i, item in enumerate(items):
        if isinstance(item, dict) and str(item.get("name", "")).lower() == part:
            return i
    return None


# -- loading -------------------------------------------------------------------------------


@dataclass
class LoadedConfig:
    settings: Settings
    path: Path
    provenance: dict[str, str]

    def source_of(self, path: str) -> str:
        return self.provenance.get(path, "default")


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> LoadedConfig:
    """Read, override and validate a config file; raise ConfigError listing every problem."""
    path = Path(path)
    environ = os.environ if environ is None else environ
    shown = str(path)
    try:
        text = yamlsafe.read_config_bytes(path)
    except yamlsafe.YamlProblem as exc:
        raise ConfigError([Problem(shown, exc.line, "", exc.message)]) from None
    except FileNotFoundError:
        raise ConfigError(
            [
                Problem(
                    shown,
                    None,
                    "",
                    "no such config file: create one from config.example.yaml "
                    "(or try `signer-tui demo`)",
                )
            ]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(shown, None, "", f"cannot read the file: {exc}")]) from None
    try:
        node, data = yamlsafe.parse(text)
    except yamlsafe.YamlProblem as exc:
        raise ConfigError([Problem(shown, exc.line, "", exc.message)]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError([Problem(shown, line, "", f"YAML syntax error: {problem}")]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([Problem(shown, 1, "", "the top level must be a mapping of keys")])
    lines: dict[str, int] = {}
    if node is not None:
        _line_map(node, (), lines)
    provenance = {p: f"{shown}:{lines.get(p, '?')}" for p in _leaf_paths(data)}
    problems = _apply_env(data, environ, provenance)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = [
                p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-"))
            ]
            dotted = format_path(loc)
            line = _nearest_line(lines, loc)
            source = provenance.get(dotted, "")
            file = shown
            if source.startswith("env "):
                file, line = source, None
            problems.append(Problem(file, line, dotted, _message(error)))
        settings = None
    if problems:
        raise ConfigError(problems)
    assert settings is not None
    return LoadedConfig(settings, path, provenance)


def _nearest_line(lines: Mapping[str, int], loc: list[str | int]) -> int | None:
    for end in range(len(loc), -1, -1):
        line = lines.get(format_path(loc[:end]))
        if line:
            return line
    return None


def resolved_items(loaded: LoadedConfig) -> list[tuple[str, str, str]]:
    """(path, shown value, source) for every leaf of the resolved config; secrets as refs."""
    rows: list[tuple[str, str, str]] = []

    def walk(value: Any, path: tuple[str | int, ...], field_hint: str = "") -> None:
        dotted = format_path(path)
        if isinstance(value, SecretRef):
            rows.append((dotted, value.display(), loaded.source_of(dotted)))
        elif isinstance(value, BaseModel):
            for name, field in type(value).model_fields.items():
                hint = "duration" if _is_duration(field) else ""
                walk(getattr(value, name), (*path, name), hint)
        elif isinstance(value, list) and value and isinstance(value[0], BaseModel):
            for i, item in enumerate(value):
                walk(item, (*path, i))
        elif isinstance(value, dict):
            if not value:
                rows.append((dotted, "{}", loaded.source_of(dotted)))
            for key, item in value.items():
                walk(item, (*path, str(key)))
        else:
            if field_hint == "duration" and isinstance(value, float):
                shown = format_duration(value)
            elif value is None:
                shown = "null"
            elif isinstance(value, bool):
                shown = str(value).lower()
            elif isinstance(value, list):
                shown = "[" + ", ".join(str(v) for v in value) + "]"
            else:
                shown = redact_url(str(value)) if "://" in str(value) else str(value)
            source = loaded.source_of(dotted)
            if source == "default" and path and path[-1] in ("deployer", "url"):
                source = "default for the network"
            rows.append((dotted, shown, source))

    walk(loaded.settings, ())
    return rows


def _is_duration(field: Any) -> bool:
    for meta in getattr(field, "metadata", []):
        if isinstance(meta, BeforeValidator) and meta.func is parse_duration:
            return True
    return False
