"""The headless runs' two seams: live findings and the actions a CLI run can do itself.

`pipeline_findings` polls one profile through the same collectors as `signer-tui check` (plus
`/v2/pox` for `node.stacks.upgrade_window` until the pipeline polls it); `cli_actions` offers
`verify-backup`. `runbooks/cli.py` passes both to the commands; swap either there.
"""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Any

from signer_tui.credentials import REDACTOR
from signer_tui.model import Finding
from signer_tui.runbooks.actions import ActionRegistry, ActionResult, Progress
from signer_tui.runbooks.livecheck import FindingsProvider


def err(text: str) -> None:
    print(REDACTOR(text), file=sys.stderr, flush=True)


def settings_of(args: argparse.Namespace) -> Any:
    """The config's settings, or None when there is no config file (runbooks work without)."""
    from signer_tui import locations
    from signer_tui.config import load_config

    path = locations.config_file(getattr(args, "config", None))
    if not path.exists():
        return None
    return load_config(path).settings


def pipeline_findings(args: argparse.Namespace) -> FindingsProvider:
    """Live findings for headless runs: every source of one profile polled (twice, `--settle`
    apart, so "is it moving" checks can judge), through the same collectors as `check`."""

    def provide() -> list[Finding]:
        import asyncio

        from signer_tui import credentials
        from signer_tui.pipeline.build import build_pipeline

        settings = settings_of(args)
        if settings is None:
            err("no config file: live checks show UNKNOWN (see `signer-tui locate`)")
            return []
        profile = settings.profile(getattr(args, "profile", None))
        store = credentials.SecretStore(credentials.resolve_all(settings))
        pipeline = build_pipeline(settings, store)
        settle = float(getattr(args, "settle", 0.0) or 0.0)

        async def once() -> list[Finding]:
            try:
                rounds = 2 if settle > 0 else 1
                snapshots = await pipeline.collect_once([profile.name], rounds, settle)
                return snapshots[0].findings
            finally:
                await pipeline.aclose()

        err(f"polling {profile.name}…")
        return asyncio.run(once())

    return provide


def cli_actions(args: argparse.Namespace) -> ActionRegistry:
    """What a headless run can do itself: `verify-backup` on the chosen profile."""
    registry = ActionRegistry()

    def verify(progress: Progress, cancel: threading.Event) -> ActionResult:
        from signer_tui import credentials
        from signer_tui.runbooks.actions import verification_result
        from signer_tui.verify.run import VerifyRequest, VerifyUsageError, verify_backup

        settings = settings_of(args)
        if settings is None:
            return ActionResult(None, "no config file: nothing to verify")
        profile = settings.profile(getattr(args, "profile", None))
        store = credentials.SecretStore(credentials.resolve_all(settings))
        request = VerifyRequest(latest=True, profile=profile, secrets=store)
        try:
            outcome = verify_backup(
                request,
                progress=lambda p: progress(f"{p.phase}: {p.message}", p.fraction),
                cancel=cancel,
            )
        except VerifyUsageError as exc:
            return ActionResult(None, f"cannot verify: {exc}")
        return verification_result(outcome)

    registry.register("verify-backup", verify)
    return registry
