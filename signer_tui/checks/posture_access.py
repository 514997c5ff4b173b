"""Posture: who can get in (SSH) and where the secrets lie (files, environments, backups).

The signer's `private_key` decrypts its DKG shares: anyone who reads it, or a backup of the
database next to it, holds a share of the sBTC peg wallet. Only names and modes are ever shown.
"""

from __future__ import annotations

from datetime import datetime

from signer_tui import format as fmt
from signer_tui.checks.posture_base import finding, listing, unavailable
from signer_tui.config import Profile, Settings
from signer_tui.model import Evidence, Finding, Status
from signer_tui.sources.host_facts import HostFacts, Unavailable
from signer_tui.sources.host_files import DirectoryModes, FileMode, SignerConfigFacts
from signer_tui.sources.host_ssh import AuthorizedKeysFacts, SshdFacts

_ROOT_KEY_ONLY = ("prohibit-password", "without-password", "forced-commands-only")


def _sshd(facts: HostFacts, fid: str) -> SshdFacts | Finding:
    if isinstance(facts.sshd, Unavailable):
        return unavailable(fid, "unknown: effective sshd config", facts.sshd, facts)
    return facts.sshd


def check_root_login(facts: HostFacts, now: datetime) -> Finding:
    """No root login with a password; ideally no direct root login at all."""
    fid = "posture.ssh.root_login"
    sshd = _sshd(facts, fid)
    if isinstance(sshd, Finding):
        return sshd
    contexts = [c for c in sshd.contexts if c.user in (None, "root")]
    details = [
        (
            c.label,
            f"permitrootlogin {c.get('permitrootlogin')}, "
            f"passwordauthentication {c.get('passwordauthentication')}",
        )
        for c in contexts
    ]
    with_password = [
        c
        for c in contexts
        if c.get("permitrootlogin") == "yes" and c.get("passwordauthentication") == "yes"
    ]
    advice = "Set `PermitRootLogin no` in sshd_config (or a drop-in) and log in with personal "
    advice += "accounts plus sudo, so every action has a name (4-eyes, audit)."
    if with_password:
        return finding(
            fid,
            Status.CRIT,
            f"root may log in with a password ({with_password[0].label})",
            facts,
            advice=advice,
            evidence=sshd.evidence,
            details=details,
        )
    direct = [c for c in contexts if c.get("permitrootlogin") == "yes"]
    if direct:
        return finding(
            fid,
            Status.WARN,
            "root may log in directly (keys only, passwords are off)",
            facts,
            advice=advice,
            evidence=sshd.evidence,
            details=details,
        )
    values = sorted({c.get("permitrootlogin") for c in contexts})
    word = "no root login" if values == ["no"] else f"root: {', '.join(values)}"
    return finding(
        fid,
        Status.OK,
        f"{word} (effective sshd config)",
        facts,
        evidence=sshd.evidence,
        details=details,
    )


def check_password_auth(facts: HostFacts, now: datetime) -> Finding:
    """Keys only: no password (or empty password) authentication for anyone."""
    fid = "posture.ssh.password_auth"
    sshd = _sshd(facts, fid)
    if isinstance(sshd, Finding):
        return sshd
    details = [
        (
            c.label,
            f"passwordauthentication {c.get('passwordauthentication')}, "
            f"kbdinteractiveauthentication {c.get('kbdinteractiveauthentication')}, "
            f"usepam {c.get('usepam')}",
        )
        for c in sshd.contexts
    ]
    advice = "Set `PasswordAuthentication no` and `KbdInteractiveAuthentication no` (check "
    advice += "Match blocks and sshd_config.d drop-ins too), then reload sshd."
    empty = [c.label for c in sshd.contexts if c.get("permitemptypasswords") == "yes"]
    passwords = [c.label for c in sshd.contexts if c.get("passwordauthentication") == "yes"]
    if empty or passwords:
        what = "empty passwords are permitted" if empty else "password login is on"
        return finding(
            fid,
            Status.CRIT,
            f"{what} ({listing(empty or passwords)})",
            facts,
            advice=advice,
            evidence=sshd.evidence,
            details=details,
        )
    pam = [
        c.label
        for c in sshd.contexts
        if c.get("kbdinteractiveauthentication") == "yes" and c.get("usepam") == "yes"
    ]
    if pam:
        return finding(
            fid,
            Status.WARN,
            f"PAM may ask for a password: keyboard-interactive is on ({listing(pam)})",
            facts,
            advice="Unless PAM is set up for a hardware second factor only, set "
            "`KbdInteractiveAuthentication no`.",
            evidence=sshd.evidence,
            details=details,
        )
    return finding(
        fid,
        Status.OK,
        "password authentication is off",
        facts,
        evidence=sshd.evidence,
        details=details,
    )


def check_hardware_keys(facts: HostFacts, now: datetime) -> Finding:
    """Operators' authorized keys are FIDO (`sk-`) keys, as the best practice asks."""
    fid = "posture.ssh.hardware_keys"
    if isinstance(facts.authorized_keys, Unavailable):
        return unavailable(fid, "authorized keys unknown", facts.authorized_keys, facts)
    keys: AuthorizedKeysFacts = facts.authorized_keys
    details = [(a.user, ", ".join(a.key_types) or "no keys") for a in keys.accounts]
    unreadable = [path for a in keys.accounts for path in a.unreadable]
    if unreadable:
        details.append(("not readable", ", ".join(unreadable)))
    soft = [a for a in keys.accounts if a.software_keys]
    if soft:
        names = [f"{a.user} ({len(a.software_keys)} {a.software_keys[0]})" for a in soft]
        return finding(
            fid,
            Status.WARN,
            f"accounts with non-hardware SSH keys: {listing(names)}",
            facts,
            advice="Replace them with FIDO keys (`ssh-keygen -t ed25519-sk` with a YubiKey or "
            "similar) and remove the old lines from authorized_keys.",
            evidence=keys.evidence,
            details=details,
        )
    if unreadable:
        return finding(
            fid,
            Status.UNKNOWN,
            f"cannot read {listing(unreadable)}",
            facts,
            advice="Run the check as root to read every account's authorized_keys.",
            evidence=keys.evidence,
            details=details,
        )
    total = sum(len(a.key_types) for a in keys.accounts)
    if total == 0:
        command = "none"
        if isinstance(facts.sshd, SshdFacts) and facts.sshd.contexts:
            command = facts.sshd.contexts[0].get("authorizedkeyscommand", "none") or "none"
        how = f" (keys may come from AuthorizedKeysCommand {command})" if command != "none" else ""
        return finding(
            fid,
            Status.UNKNOWN,
            f"no authorized keys found for {listing(list(keys.checked))}{how}",
            facts,
            advice="Keys kept elsewhere (AuthorizedKeysCommand, certificates) are not inspected.",
            evidence=keys.evidence,
            details=details,
        )
    return finding(
        fid,
        Status.OK,
        f"all {total} authorized key(s) are hardware-backed (sk-)",
        facts,
        evidence=keys.evidence,
        details=details,
    )


def _mode(file: FileMode) -> str:
    return f"{file.mode:04o}" if file.mode is not None else "?"


def check_signer_config_secret(facts: HostFacts, profile: Profile, now: datetime) -> Finding:
    """The signer TOML holding `private_key` is readable by its owner only."""
    fid = "posture.secrets.signer_config"
    cfg = facts.signer_config
    if cfg is None:
        return finding(
            fid,
            Status.UNKNOWN,
            "not checked: the key file (posture.signer_config is not set)",
            facts,
            advice="Set posture.signer_config to the signer's TOML file.",
        )
    if isinstance(cfg, Unavailable):
        return unavailable(fid, "signer config unknown", cfg, facts)
    info: SignerConfigFacts = cfg
    file = info.file
    evidence = (
        Evidence("host.files", f"stat {file.path}", facts.observed_at, decoded=file.describe()),
    )
    details = [("file", file.describe()), ("private_key in file", str(info.has_private_key))]
    if not file.exists:
        return finding(
            fid,
            Status.UNKNOWN,
            f"{file.error or 'does not exist'}: {file.path}",
            facts,
            advice="Point posture.signer_config at the signer's TOML file.",
            evidence=evidence,
        )
    advice = f"chmod 600 {file.path} (owned by the signer's user); the key decrypts the DKG shares."
    holds_key = info.has_private_key is not False
    if holds_key and file.other_readable:
        return finding(
            fid,
            Status.CRIT,
            f"world-readable private key: {file.path} ({_mode(file)})",
            facts,
            advice=advice,
            evidence=evidence,
            details=details,
        )
    if holds_key and file.group_readable:
        return finding(
            fid,
            Status.WARN,
            f"group-readable private key: {file.path} ({_mode(file)})",
            facts,
            advice=advice,
            evidence=evidence,
            details=details,
        )
    if info.has_private_key is False:
        summary = f"{file.path} holds no private_key (set elsewhere, e.g. the environment)"
    elif not info.readable:
        summary = f"{file.path} is {_mode(file)}, owner {file.owner} (contents not readable here)"
    else:
        summary = f"{file.path} is {_mode(file)}, owner {file.owner}"
    return finding(fid, Status.OK, summary, facts, evidence=evidence, details=details)


def check_config_secrets(facts: HostFacts, settings: Settings, now: datetime) -> Finding:
    """Our own config references its secrets (keyring, env, protected files), not plain text."""
    fid = "posture.secrets.config"
    plain = [path for path, ref in settings.secret_refs() if ref.kind == "plain"]
    loose = [
        (path, f)
        for path, f in facts.secret_files
        if f.exists and (f.group_readable or f.other_readable)
    ]
    details = [(path, "plain text in the config") for path in plain]
    details += [(path, f"{f.path} is {_mode(f)}") for path, f in loose]
    config = facts.config_file
    if config is not None:
        details.append(("config file", config.describe()))
    if plain:
        world = config is not None and config.other_readable
        return finding(
            fid,
            Status.CRIT if world else Status.WARN,
            f"plain-text secrets in the config: {listing(plain)}"
            + (" (and the file is world-readable)" if world else ""),
            facts,
            advice="Move them to the keyring (`signer-tui secrets set NAME`, then "
            "{keyring: NAME}) or to a 0600 file ({file: PATH}).",
            details=details,
        )
    if loose:
        return finding(
            fid,
            Status.WARN,
            "secret files readable by others: " + listing([f.path for _, f in loose]),
            facts,
            advice="chmod 600 those files.",
            details=details,
        )
    count = sum(1 for _ in settings.secret_refs())
    return finding(
        fid,
        Status.OK,
        f"no plain-text secrets ({fmt.count(count, 'reference')})",
        facts,
        details=details,
    )


def check_signer_environment(facts: HostFacts, profile: Profile, now: datetime) -> Finding:
    """The signer's environment does not carry the private key (visible in /proc and
    `docker inspect` to anyone with root or the docker group)."""
    fid = "posture.secrets.environment"
    name = profile.posture.signer_process
    leaks: list[str] = []
    details: list[tuple[str, str]] = []
    docker = facts.docker
    containers = docker.containers if not isinstance(docker, Unavailable) else ()
    for container in containers:
        keys = [e for e in container.env_names if "PRIVATE_KEY" in e.upper()]
        if keys:
            leaks.append(f"container {container.name} ({', '.join(keys)})")
    envs = facts.signer_env
    if isinstance(envs, Unavailable) and not leaks:
        return unavailable(fid, "signer environment unknown", envs, facts)
    unread: list[str] = []
    for env in envs if not isinstance(envs, Unavailable) else ():
        if not env.readable:
            unread.append(f"pid {env.pid} ({env.error})")
            continue
        keys = [e for e in env.env_names if "PRIVATE_KEY" in e.upper()]
        details.append((f"pid {env.pid} {env.name}", f"{len(env.env_names)} variables"))
        if keys:
            leaks.append(f"pid {env.pid} ({', '.join(keys)})")
    if leaks:
        return finding(
            fid,
            Status.WARN,
            f"private key in an environment: {listing(leaks)}",
            facts,
            advice="Put private_key in the signer's 0600 TOML file instead of "
            "SIGNER_SIGNER__PRIVATE_KEY: environments show in `docker inspect` and /proc.",
            details=details,
        )
    if unread:
        return finding(
            fid,
            Status.UNKNOWN,
            f"cannot read the signer's environment: {listing(unread)}",
            facts,
            advice="Run the check as root (or as the signer's user).",
            details=details,
        )
    if not details and not containers:
        return finding(
            fid,
            Status.UNKNOWN,
            f"no process named {name!r} found",
            facts,
            advice="Set posture.signer_process to the signer's process name.",
        )
    return finding(
        fid, Status.OK, "no private key in the signer's environment", facts, details=details
    )


def check_backups_dir(facts: HostFacts, profile: Profile, now: datetime) -> Finding:
    """The backups of the signer DB are not world-readable (they hold the encrypted shares)."""
    fid = "posture.secrets.backups"
    backups = facts.backups
    if backups is None:
        kind = profile.backups.kind if profile.backups else None
        why = (
            "no backups configured"
            if kind is None
            else f"not inspected: {kind} repository permissions"
        )
        return finding(
            fid, Status.UNKNOWN, why, facts, advice="Keep backup repositories mode 0700."
        )
    if isinstance(backups, Unavailable):
        return unavailable(fid, "backup directory unknown", backups, facts)
    modes: DirectoryModes = backups
    top = modes.directory
    if not top.exists:
        return finding(fid, Status.UNKNOWN, f"{top.error or 'does not exist'}: {top.path}", facts)
    details = [("directory", top.describe())]
    details += [(f.path, _mode(f)) for f in modes.other_readable[:10]]
    advice = f"chmod 700 {top.path} and chmod 600 the dumps in it."
    traversable = top.mode is not None and bool(top.mode & 0o005)
    if traversable and modes.other_readable:
        names = [f.path.rsplit("/", 1)[-1] for f in modes.other_readable]
        return finding(
            fid,
            Status.CRIT,
            f"world-readable: {fmt.count(len(names), 'backup file')} ({listing(names)})",
            facts,
            advice=advice,
            details=details,
        )
    if top.mode is not None and top.mode & 0o004:
        return finding(
            fid,
            Status.WARN,
            f"listed by anyone: {top.path} ({_mode(top)})",
            facts,
            advice=advice,
            details=details,
        )
    return finding(
        fid,
        Status.OK,
        f"{top.path} is {_mode(top)}, {modes.files} file(s) not world-readable",
        facts,
        details=details,
    )
