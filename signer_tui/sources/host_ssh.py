"""Host readers, part 2: the *effective* sshd configuration and the operators' authorized keys.

`sshd -T` prints the configuration sshd would really use, includes and defaults resolved. Without
`-C` it ignores `Match` blocks, so it is also asked as a given user arriving from an outside
address (`-C user=root,addr=203.0.113.10`, a documentation address standing for "the internet"):
that is what an attacker would get. sshd refuses `-T` as root when its privilege-separation
directory (/run/sshd) is missing, which happens only where sshd never ran; the error says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from signer_tui.model import RAW_LIMIT, Evidence, clean_text, utcnow
from signer_tui.sources.errors import SourceProtocolError, ToolFailed
from signer_tui.sources.host import run_command

DEFAULT_SSHD = ("/usr/sbin/sshd",)
# TEST-NET-3 (RFC 5737): "someone on the internet" for Match Address evaluation.
OUTSIDE_ADDRESS = "203.0.113.10"

# OpenSSH key types backed by a FIDO authenticator (a YubiKey and the like).
HARDWARE_KEY_TYPES = frozenset(
    {
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
        "sk-ssh-ed25519-cert-v01@openssh.com",
        "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
    }
)
_KEY_TYPE = re.compile(
    r"^(ssh-(rsa|dss|ed25519|ed448)|ecdsa-sha2-nistp\d+|sk-[a-z0-9-]+@openssh\.com|"
    r"(ssh|ecdsa|rsa)-[a-z0-9-]+-cert-v01@openssh\.com|rsa-sha2-(256|512))$"
)


@dataclass(frozen=True)
class SshdContext:
    label: str  # "defaults" or "root from 203.0.113.10"
    user: str | None
    settings: tuple[tuple[str, str], ...]  # keyword (lower case) -> value, repeats joined by " "

    def get(self, key: str, default: str = "") -> str:
        return dict(self.settings).get(key, default)


@dataclass(frozen=True)
class SshdFacts:
    config: str
    contexts: tuple[SshdContext, ...]
    evidence: tuple[Evidence, ...] = ()

    @property
    def ports(self) -> tuple[int, ...]:
        value = self.contexts[0].get("port", "22") if self.contexts else "22"
        return tuple(int(p) for p in value.split() if p.isdigit())

    @property
    def authorized_keys_files(self) -> tuple[str, ...]:
        value = self.contexts[0].get("authorizedkeysfile", "") if self.contexts else ""
        return tuple(value.split()) or (".ssh/authorized_keys", ".ssh/authorized_keys2")


def parse_sshd_t(text: str) -> tuple[tuple[str, str], ...]:
    """`sshd -T` output: one `keyword value` per line; repeated keywords are joined."""
    values: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        key, _, value = line.partition(" ")
        values.setdefault(key.lower(), []).append(value.strip())
    if "permitrootlogin" not in values or "passwordauthentication" not in values:
        raise SourceProtocolError("unexpected sshd -T output", "no permitrootlogin line")
    return tuple((k, " ".join(v)) for k, v in values.items())


def read_sshd(
    config: Path = Path("/etc/ssh/sshd_config"),
    sshd: Sequence[str] = DEFAULT_SSHD,
    users: Iterable[str] = ("root",),
) -> SshdFacts:
    """The effective configuration: the defaults, then as each user arriving from outside."""
    runs: list[tuple[str, str | None, list[str]]] = [
        ("defaults", None, [*sshd, "-T", "-f", str(config)])
    ]
    for user in dict.fromkeys(users):
        runs.append(
            (
                f"{user} from {OUTSIDE_ADDRESS}",
                user,
                [*sshd, "-T", "-f", str(config), "-C", f"user={user},addr={OUTSIDE_ADDRESS}"],
            )
        )
    contexts: list[SshdContext] = []
    evidence: list[Evidence] = []
    for label, who, argv in runs:
        run = run_command(argv, "sshd")
        if run.returncode != 0:
            line = run.last_error_line()
            hint = ""
            if "privilege separation directory" in line:
                hint = " (sshd has never run on this host; create it with `mkdir -p /run/sshd`)"
            elif "no hostkeys" in line:
                hint = " (sshd -T loads the host keys: run the check as root)"
            raise ToolFailed("sshd -T failed", f"{run.command}: {line}{hint}", run.evidence("sshd"))
        settings = parse_sshd_t(run.stdout)
        contexts.append(SshdContext(label, who, settings))
        evidence.append(run.evidence("host.sshd", clean_text(run.stdout, RAW_LIMIT)))
    return SshdFacts(str(config), tuple(contexts), tuple(evidence))


# -- authorized_keys -----------------------------------------------------------------------


def key_type_of(line: str) -> str | None:
    """The key type of one authorized_keys line, skipping its options (which may quote spaces)."""
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    first = line.split(None, 1)[0]
    if _KEY_TYPE.match(first):
        return first
    # Options end at the first unquoted whitespace.
    quoted = False
    for i, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char in " \t" and not quoted:
            rest = line[i:].split()
            return rest[0] if rest and _KEY_TYPE.match(rest[0]) else None
    return None


@dataclass(frozen=True)
class AccountKeys:
    user: str
    files: tuple[str, ...]  # the files that exist
    key_types: tuple[str, ...]  # one per key, in file order
    unreadable: tuple[str, ...] = ()  # files that exist but could not be read

    @property
    def software_keys(self) -> tuple[str, ...]:
        return tuple(t for t in self.key_types if t not in HARDWARE_KEY_TYPES)


@dataclass(frozen=True)
class AuthorizedKeysFacts:
    accounts: tuple[AccountKeys, ...]  # only accounts with at least one authorized_keys file
    checked: tuple[str, ...]  # every account looked at
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True)
class Account:
    user: str
    uid: int
    home: str
    shell: str


_NO_LOGIN = ("/nologin", "/false", "/sync")


def parse_passwd(text: str, min_uid: int = 1000) -> list[Account]:
    """Accounts that can log in: root plus regular users (uid >= min_uid, not nobody)."""
    accounts = []
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) < 7 or not parts[2].isdigit():
            continue
        uid = int(parts[2])
        if parts[6].endswith(_NO_LOGIN) and uid != 0:
            continue
        if uid == 0 or (min_uid <= uid < 65534):
            accounts.append(Account(parts[0], uid, parts[5], parts[6]))
    return accounts


def expand_keys_path(pattern: str, account: Account) -> Path:
    """sshd's AuthorizedKeysFile tokens: %h home, %u user, %U uid, %% a percent sign."""
    tokens = {"%h": account.home, "%u": account.user, "%U": str(account.uid), "%%": "%"}
    expanded = re.sub(r"%[huU%]", lambda m: tokens[m.group(0)], pattern)
    path = Path(expanded)
    return path if path.is_absolute() else Path(account.home) / path


def read_authorized_keys(
    patterns: Sequence[str],
    passwd: Path = Path("/etc/passwd"),
    min_uid: int = 1000,
    root: Path = Path("/"),
) -> AuthorizedKeysFacts:
    """Key types in every login account's authorized_keys files (`root` re-bases for tests)."""
    observed_at = utcnow()
    try:
        accounts = parse_passwd(passwd.read_text(errors="replace"), min_uid)
    except OSError as exc:
        raise ToolFailed(f"cannot read {passwd}", exc.strerror or str(exc)) from None
    found: list[AccountKeys] = []
    for account in accounts:
        files: list[str] = []
        types: list[str] = []
        unreadable: list[str] = []
        for pattern in patterns:
            if pattern.lower() == "none":
                continue
            path = expand_keys_path(pattern, account)
            real = root / path.relative_to("/") if path.is_absolute() else path
            try:
                text = real.read_text(errors="replace")
            except FileNotFoundError:
                continue
            except OSError:
                files.append(str(path))
                unreadable.append(str(path))
                continue
            files.append(str(path))
            types.extend(t for t in map(key_type_of, text.splitlines()) if t)
        if files:
            found.append(AccountKeys(account.user, tuple(files), tuple(types), tuple(unreadable)))
    decoded = "\n".join(
        f"{a.user}: {', '.join(a.key_types) or 'no keys'}"
        + (f" (unreadable: {', '.join(a.unreadable)})" if a.unreadable else "")
        for a in found
    )
    evidence = Evidence(
        "host.authorized_keys",
        f"read {passwd} and AuthorizedKeysFile {' '.join(patterns)}",
        observed_at,
        decoded=decoded or "no authorized_keys files",
    )
    return AuthorizedKeysFacts(tuple(found), tuple(a.user for a in accounts), (evidence,))
