"""Host readers: the firewall's inbound policy (read-only) and the clock's sync state."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

from signer_tui.model import Evidence, clean_text, utcnow
from signer_tui.sources.errors import SourceError, ToolNotInstalled
from signer_tui.sources.host import run_command

# -- firewall ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FirewallView:
    """What one tool says about inbound traffic."""

    tool: str  # ufw | nft | iptables | ip6tables
    inbound: str  # deny | allow | inactive | unknown
    detail: str


@dataclass(frozen=True)
class FirewallFacts:
    views: tuple[FirewallView, ...]
    # Tools that could not answer, with the reason ("not installed", "needs root").
    unavailable: tuple[tuple[str, str], ...] = ()
    evidence: tuple[Evidence, ...] = ()


_DENY = ("drop", "reject")


def parse_ufw(text: str) -> FirewallView:
    """`ufw status verbose`."""
    if re.search(r"^Status:\s*inactive", text, re.M):
        return FirewallView("ufw", "inactive", "ufw is inactive")
    match = re.search(r"^Default:\s*(\w+)\s*\(incoming\)", text, re.M)
    if not match:
        return FirewallView("ufw", "unknown", "no 'Default: ... (incoming)' line")
    policy = match.group(1).lower()
    inbound = "deny" if policy in ("deny", "reject") else "allow"
    return FirewallView("ufw", inbound, f"ufw active, default {policy} (incoming)")


def parse_nft(text: str) -> FirewallView:
    """`nft list ruleset`: an input-hook filter chain with policy drop, or ending in drop."""
    chains = re.finditer(
        r"table\s+(?P<family>\S+)\s+(?P<table>\S+)\s*\{|chain\s+(?P<chain>\S+)\s*\{(?P<body>[^}]*)\}",
        text,
    )
    family = ""
    found: list[str] = []
    deny = False
    for match in chains:
        if match.group("family"):
            family = f"{match.group('family')} {match.group('table')}"
            continue
        body = match.group("body")
        hook = re.search(r"type\s+filter\s+hook\s+input\b.*?policy\s+(\w+)", body)
        if not hook:
            continue
        rules = [r.strip() for r in body.splitlines() if r.strip() and "hook" not in r]
        last = rules[-1] if rules else ""
        chain_denies = hook.group(1) in _DENY or last in _DENY or last.startswith("reject")
        deny = deny or chain_denies
        found.append(f"{family} chain {match.group('chain')}: policy {hook.group(1)}")
    if not found:
        return FirewallView("nft", "allow", "no input-hook filter chain (everything accepted)")
    return FirewallView("nft", "deny" if deny else "allow", "; ".join(found))


def parse_iptables(text: str, tool: str = "iptables") -> FirewallView:
    """`iptables -S INPUT` (or ip6tables): policy DROP, or a final catch-all DROP/REJECT."""
    policy = re.search(r"^-P INPUT (\w+)", text, re.M)
    rules = [line for line in text.splitlines() if line.startswith("-A INPUT")]
    last = rules[-1] if rules else ""
    catch_all = bool(re.fullmatch(r"-A INPUT -j (DROP|REJECT)(?: .*)?", last))
    if policy is None:
        return FirewallView(tool, "unknown", "no INPUT policy line")
    name = policy.group(1)
    if name in ("DROP", "REJECT") or catch_all:
        why = f"INPUT policy {name}" + (" and a final catch-all drop" if catch_all else "")
        return FirewallView(tool, "deny", why)
    return FirewallView(tool, "allow", f"INPUT policy {name}, {len(rules)} rule(s)")


def read_firewall(
    ufw: Sequence[str] = ("ufw",),
    nft: Sequence[str] = ("nft",),
    iptables: Sequence[str] = ("iptables",),
    ip6tables: Sequence[str] = ("ip6tables",),
) -> FirewallFacts:
    """Ask every firewall front-end, read-only; each answer or refusal is recorded."""
    attempts = (
        ("ufw", [*ufw, "status", "verbose"], parse_ufw),
        ("nft", [*nft, "list", "ruleset"], parse_nft),
        ("iptables", [*iptables, "-S", "INPUT"], parse_iptables),
        ("ip6tables", [*ip6tables, "-S", "INPUT"], lambda t: parse_iptables(t, "ip6tables")),
    )
    views: list[FirewallView] = []
    unavailable: list[tuple[str, str]] = []
    evidence: list[Evidence] = []
    for tool, argv, parse in attempts:
        try:
            run = run_command(argv, tool)
        except ToolNotInstalled:
            unavailable.append((tool, "not installed"))
            continue
        except SourceError as exc:
            unavailable.append((tool, exc.title))
            continue
        if run.returncode != 0:
            reason = run.last_error_line()
            if os.geteuid() != 0 or "ermission" in reason or "root" in reason:
                reason = f"needs root ({reason})"
            unavailable.append((tool, clean_text(reason, 200)))
            evidence.append(run.evidence("host.firewall"))
            continue
        view = parse(run.stdout)
        views.append(view)
        evidence.append(run.evidence("host.firewall", view.detail))
    return FirewallFacts(tuple(views), tuple(unavailable), tuple(evidence))


# -- clock ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClockFacts:
    synchronized: bool | None  # None: no source could tell
    via: str  # timedatectl | chronyc | kernel | none
    detail: str
    evidence: tuple[Evidence, ...] = ()


def parse_timedatectl(text: str) -> bool | None:
    match = re.search(r"^NTPSynchronized=(yes|no)$", text, re.M)
    return None if match is None else match.group(1) == "yes"


def parse_chronyc(text: str) -> bool | None:
    match = re.search(r"^Leap status\s*:\s*(.+)$", text, re.M)
    if match is None:
        return None
    return match.group(1).strip().lower() != "not synchronised"


# adjtimex(2) returns TIME_ERROR when the kernel's clock is not synchronised (STA_UNSYNC).
_TIME_ERROR = 5


def kernel_clock_synchronized() -> bool | None:
    """The kernel's own view (what timesyncd/chrony/ntpd report to it), readable everywhere."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return None
    try:
        libc = ctypes.CDLL(libc_name, use_errno=True)
        buffer = ctypes.create_string_buffer(512)  # struct timex; modes = 0 (read only)
        state = int(libc.adjtimex(buffer))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return state != _TIME_ERROR


def read_clock(
    timedatectl: Sequence[str] = ("timedatectl",),
    chronyc: Sequence[str] = ("chronyc",),
    kernel: bool = True,
) -> ClockFacts:
    """timedatectl (systemd-timesyncd and friends), then chronyc, then the kernel's flag."""
    evidence: list[Evidence] = []
    tried: list[str] = []
    for tool, argv, parse in (
        ("timedatectl", [*timedatectl, "show"], parse_timedatectl),
        ("chronyc", [*chronyc, "tracking"], parse_chronyc),
    ):
        try:
            run = run_command(argv, tool)
        except SourceError as exc:
            tried.append(f"{tool}: {exc.title}")
            continue
        evidence.append(run.evidence("host.clock"))
        synced = parse(run.stdout) if run.returncode == 0 else None
        if synced is None:
            tried.append(f"{tool}: {run.last_error_line() or 'no sync status in its output'}")
            continue
        return ClockFacts(synced, tool, f"{run.command}: synchronized={synced}", tuple(evidence))
    if kernel:
        synced = kernel_clock_synchronized()
        if synced is not None:
            word = "synchronised" if synced else "NOT synchronised (STA_UNSYNC)"
            evidence.append(Evidence("host.clock", "adjtimex(2)", utcnow(), decoded=word))
            detail = f"kernel clock {word}; " + "; ".join(tried)
            return ClockFacts(synced, "kernel", detail, tuple(evidence))
    return ClockFacts(None, "none", "; ".join(tried), tuple(evidence))
