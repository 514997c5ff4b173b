"""Secrets: keyring look-ups (service `signer-tui`), env and file references, redaction.

Rules kept here:
* A secret value lives only inside a `Secret`, whose repr/str never show it, and is
  registered with the redactor so any text printed by the CLI or TUI can be scrubbed.
* Headless hosts often have no keyring backend. That is detected and reported with the fix;
  a plaintext backend the operator did not choose explicitly is refused, never used silently.
* Keyring calls can block (a Secret Service waiting on an unlock prompt), so they run in a
  helper thread with a timeout.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from signer_tui.config import SecretRef, Settings
from signer_tui.sources.errors import SecretUnavailable

SERVICE = "signer-tui"
KEYRING_TIMEOUT = 10.0
CRYPTFILE_PASSWORD_ENV = "KEYRING_CRYPTFILE_PASSWORD"

FIX = (
    "on a headless host run `pip install 'signer-tui[headless]'` and set "
    "PYTHON_KEYRING_BACKEND=keyrings.cryptfile.cryptfile.CryptFileKeyring "
    f"(with {CRYPTFILE_PASSWORD_ENV} for unattended use), or use {{env: VAR}} / {{file: PATH}} "
    "references in the config instead"
)

T = TypeVar("T")


class Secret:
    """A secret value that does not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        REDACTOR.add(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret(***)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("secret", self._value))


class Redactor:
    """Scrubs every secret value seen by this process out of text before it is shown."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        # Very short values would shred ordinary text and are not worth hiding by substring.
        found = {v for v in encodings(value) if len(v) >= 4}
        if found:
            with self._lock:
                self._values.update(found)

    def __call__(self, text: str) -> str:
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)
        for value in values:
            if value in text:
                text = text.replace(value, "***")
        return text


REDACTOR = Redactor()


def encodings(value: str) -> set[str]:
    """Every spelling of `value` that error messages, logs and files are known to produce:
    as is, repr- and JSON-escaped, URL-escaped, as a bytes repr, base64 (Basic auth), and
    each line of a multi-line value on its own (a header error quotes from the break on)."""
    import base64
    import json
    from urllib.parse import quote, quote_plus

    raw = value.encode("utf-8", errors="surrogatepass")
    found = {
        value,
        repr(value)[1:-1],
        ascii(value)[1:-1],
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        quote(value, safe=""),
        quote_plus(value, safe=""),
        repr(raw)[2:-1],
        base64.b64encode(raw).decode("ascii"),
    }
    found.update(line.strip() for line in value.splitlines())
    return {v for v in found if v}


# -- keyring backend -------------------------------------------------------------------------


@dataclass(frozen=True)
class BackendInfo:
    name: str
    usable: bool
    explicit: bool
    reason: str = ""


def _backend_name(backend: object) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def _leaves(backend: object) -> list[object]:
    children = getattr(backend, "backends", None)
    if isinstance(children, list | tuple):
        return list(children)
    return [backend]


def _is_plaintext(backend: object) -> bool:
    return "Plaintext" in type(backend).__name__


def _is_fail(backend: object) -> bool:
    return type(backend).__module__ == "keyring.backends.fail"


def _explicit_choice() -> bool:
    if os.environ.get("PYTHON_KEYRING_BACKEND"):
        return True
    try:
        import keyring.core

        return keyring.core.load_config() is not None
    except Exception:
        return False


_backend_lock = threading.Lock()
_backend_cache: tuple[object, BackendInfo] | None = None


def _select_backend() -> tuple[object, BackendInfo]:
    global _backend_cache
    with _backend_lock:
        if _backend_cache is not None:
            return _backend_cache
        import keyring

        try:
            backend = keyring.get_keyring()
        except Exception as exc:
            # PYTHON_KEYRING_BACKEND naming a module that is not installed (e.g. the
            # encrypted-file keyring without the `headless` extra) fails inside keyring.
            chosen = os.environ.get("PYTHON_KEYRING_BACKEND", "the configured keyring backend")
            reason = f"{chosen} cannot be loaded ({type(exc).__name__}: {exc})"
            _backend_cache = (None, BackendInfo(chosen, False, True, reason))
            return _backend_cache
        explicit = _explicit_choice()
        leaves = [b for b in _leaves(backend) if not _is_fail(b)]
        name = _backend_name(leaves[0] if len(leaves) == 1 else backend)
        if not leaves:
            info = BackendInfo(name, False, explicit, "no keyring backend is available")
        elif not explicit and all(_is_plaintext(b) for b in leaves):
            info = BackendInfo(
                name,
                False,
                explicit,
                "the only keyring backend found stores secrets in plain text, which signer-tui "
                "will not use unless chosen explicitly with PYTHON_KEYRING_BACKEND",
            )
        else:
            info = BackendInfo(name, True, explicit)
            password = os.environ.get(CRYPTFILE_PASSWORD_ENV)
            for leaf in leaves:
                # Look on the class: reading the property would prompt for the password.
                if password and isinstance(getattr(type(leaf), "keyring_key", None), property):
                    # keyrings.cryptfile's documented way to unlock without a prompt.
                    leaf.keyring_key = password  # type: ignore[attr-defined]
        _backend_cache = (backend, info)
        return _backend_cache


def reset_backend_cache() -> None:
    """Forget the chosen backend (tests switch backends between cases)."""
    global _backend_cache
    with _backend_lock:
        _backend_cache = None
    import keyring.core

    keyring.core._keyring_backend = None  # keyring caches its own choice too


def backend_info() -> BackendInfo:
    return _select_backend()[1]


def _usable_backend() -> object:
    backend, info = _select_backend()
    if not info.usable:
        raise SecretUnavailable("no usable keyring", f"{info.reason}: {FIX}")
    return backend


def _with_timeout(func: Callable[[], T], what: str, timeout: float) -> T:
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="keyring")
    future = pool.submit(func)
    try:
        return future.result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        raise SecretUnavailable(
            "keyring not answering",
            f"{what} did not finish within {timeout:g} s (is the keyring locked?)",
        ) from None
    except SecretUnavailable:
        raise
    except Exception as exc:
        # Backend errors can quote what they were handed; keep only the class name.
        raise SecretUnavailable("keyring error", f"{what} failed: {type(exc).__name__}") from None
    finally:
        pool.shutdown(wait=False)


def keyring_get(name: str, timeout: float = KEYRING_TIMEOUT) -> Secret | None:
    backend = _usable_backend()

    def get() -> str | None:
        return backend.get_password(SERVICE, name)  # type: ignore[attr-defined, no-any-return]

    value = _with_timeout(get, f"reading '{name}' from the keyring", timeout)
    return Secret(value) if value is not None else None


def keyring_set(name: str, value: str, timeout: float = KEYRING_TIMEOUT) -> None:
    backend = _usable_backend()
    REDACTOR.add(value)

    def put() -> None:
        backend.set_password(SERVICE, name, value)  # type: ignore[attr-defined]

    _with_timeout(put, f"storing '{name}' in the keyring", timeout)


def keyring_delete(name: str, timeout: float = KEYRING_TIMEOUT) -> bool:
    """Delete an entry; False if there was none."""
    backend = _usable_backend()
    from keyring.errors import PasswordDeleteError

    def delete() -> bool:
        try:
            backend.delete_password(SERVICE, name)  # type: ignore[attr-defined]
        except PasswordDeleteError:
            return False
        return True

    return _with_timeout(delete, f"deleting '{name}' from the keyring", timeout)


# -- references ------------------------------------------------------------------------------

# Secrets sent as an HTTP header value (x-api-key, Authorization: Bearer): HTTP allows one
# line of visible ASCII there. Anything else fails inside the HTTP library, quoting the value.
HEADER_SECRET_FIELDS = ("api_key", "github_token")
HEADER_TITLE = "secret cannot be a header"


def header_problem(value: str) -> str | None:
    """Why `value` cannot be sent as a header value, without quoting it; None if it can."""
    if "\n" in value or "\r" in value:
        lines = len(value.splitlines())
        return f"it has {lines} lines; keep only the token, on one line"
    if not value.isascii():
        return "it contains non-ASCII characters; tokens are plain ASCII (a pasted quote?)"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "it contains control characters"
    if value != value.strip():
        return "it starts or ends with whitespace"
    return None


def check_header_secret(secret: Secret, what: str) -> str:
    """The secret's value if it can be a header; SecretUnavailable saying why not."""
    problem = header_problem(secret.reveal())
    if problem is not None:
        raise SecretUnavailable(HEADER_TITLE, f"{what} cannot be sent as a header: {problem}")
    return secret.reveal()


def resolve(ref: SecretRef, timeout: float = KEYRING_TIMEOUT) -> Secret:
    """The value behind a reference, or SecretUnavailable saying why not."""
    if ref.kind == "plain":
        return Secret(ref.name)
    if ref.kind == "env":
        value = os.environ.get(ref.name)
        if value is None:
            raise SecretUnavailable(
                "secret unavailable", f"environment variable {ref.name} is not set"
            )
        return Secret(value)
    if ref.kind == "file":
        path = Path(ref.name).expanduser()
        try:
            return Secret(path.read_text(encoding="utf-8").rstrip("\r\n"))
        except FileNotFoundError:
            raise SecretUnavailable("secret unavailable", f"file {path} does not exist") from None
        except OSError as exc:
            raise SecretUnavailable(
                "secret unavailable", f"cannot read {path}: {exc.strerror}"
            ) from None
    secret = keyring_get(ref.name, timeout)
    if secret is None:
        raise SecretUnavailable(
            "secret not set",
            f"no keyring entry '{ref.name}': run `signer-tui secrets set {ref.name}`",
        )
    return secret


@dataclass(frozen=True)
class Resolved:
    path: str
    ref: SecretRef
    secret: Secret | None
    error: str = ""  # "title: detail"
    title: str = "secret unavailable"


def resolve_all(settings: Settings, timeout: float = KEYRING_TIMEOUT) -> list[Resolved]:
    """Resolve every reference in the config once (before the TUI starts)."""
    out: list[Resolved] = []
    for path, ref in settings.secret_refs():
        try:
            secret = resolve(ref, timeout)
            if path.rsplit(".", 1)[-1] in HEADER_SECRET_FIELDS:
                check_header_secret(secret, f"the secret {ref.display()} ({path})")
            out.append(Resolved(path, ref, secret))
        except SecretUnavailable as exc:
            out.append(Resolved(path, ref, None, f"{exc.title}: {exc.detail}", exc.title))
    return out


class SecretStore:
    """Resolved secrets by reference, handed to sources; unresolved ones raise on use."""

    def __init__(self, resolved: Iterable[Resolved] = ()) -> None:
        self._by_ref: dict[SecretRef, Resolved] = {}
        for item in resolved:
            self._by_ref.setdefault(item.ref, item)

    def get(self, ref: SecretRef | None) -> Secret | None:
        if ref is None:
            return None
        item = self._by_ref.get(ref)
        if item is None:
            item = Resolved("", ref, None)
            try:
                item = Resolved("", ref, resolve(ref))
            except SecretUnavailable as exc:
                item = Resolved("", ref, None, f"{exc.title}: {exc.detail}", exc.title)
            self._by_ref[ref] = item
        if item.secret is None:
            raise SecretUnavailable(item.title, item.error or ref.display())
        return item.secret
