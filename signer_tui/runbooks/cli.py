"""`signer-tui runbook …` and `signer-tui audit …`: the parsers.

`add_parsers(subparsers)` registers both; `signer_tui/cli.py` only calls it. The commands
(runbooks/commands.py) are imported when one runs, so `signer-tui --help` stays fast. Live
findings and actions for headless runs come from runbooks/headless.py unless other ones are
passed to `add_parsers`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from signer_tui.runbooks.actions import ActionRegistry
    from signer_tui.runbooks.livecheck import FindingsProvider

EXIT_USAGE = 2
Handler = Callable[[argparse.Namespace], int]


def _command(name: str) -> Handler:
    """The command `name` from runbooks/commands.py; expected failures print one line (or
    one per problem) and exit 2."""

    def run(args: argparse.Namespace) -> int:
        from signer_tui.runbooks import commands
        from signer_tui.runbooks.audit import AuditError
        from signer_tui.runbooks.engine import RunError
        from signer_tui.runbooks.loader import RunbookError
        from signer_tui.runbooks.store import RunsDirError

        handler: Handler = getattr(commands, name)
        try:
            return handler(args)
        except RunbookError as exc:
            commands.report_problems(exc.problems)
            return EXIT_USAGE
        except (RunError, RunsDirError, AuditError) as exc:
            commands.err(f"signer-tui: error: {exc}")
            return EXIT_USAGE

    return run


def pipeline_findings(args: argparse.Namespace) -> FindingsProvider:
    from signer_tui.runbooks import headless

    return headless.pipeline_findings(args)


def cli_actions(args: argparse.Namespace) -> ActionRegistry:
    from signer_tui.runbooks import headless

    return headless.cli_actions(args)


# -- parsers ----------------------------------------------------------------------------------


def _runs_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runs-dir",
        metavar="DIR",
        default=argparse.SUPPRESS,  # a sub-command's default must not undo `audit --runs-dir`
        help="shared runs directory (default: runbooks.runs_dir in the config)",
    )


def add_parsers(
    subparsers: Any,
    *,
    findings: Callable[[argparse.Namespace], FindingsProvider] = pipeline_findings,
    actions: Callable[[argparse.Namespace], ActionRegistry] = cli_actions,
) -> None:
    """Register `runbook` and `audit` on the CLI's sub-command parsers."""
    book = subparsers.add_parser("runbook", help="guided runbooks with live checks and four eyes")
    book_sub = book.add_subparsers(dest="runbook_command", metavar="ACTION", required=True)

    p = book_sub.add_parser("list", help="every runbook (package and your own)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=_command("cmd_list"))
    p = book_sub.add_parser("validate", help="check runbook files; list every problem (exit 2)")
    p.add_argument("paths", nargs="*", metavar="FILE", help="files (default: every runbook)")
    p.set_defaults(handler=_command("cmd_validate"))
    p = book_sub.add_parser("show", help="a runbook's steps")
    p.add_argument("name")
    p.add_argument("--verbose", action="store_true", help="include each step's text")
    p.set_defaults(handler=_command("cmd_show"))
    for name, help_text, handler in (
        ("start", "start a run and walk it in this terminal", "cmd_start"),
        ("resume", "continue a run where it stopped (any operator)", "cmd_resume"),
    ):
        p = book_sub.add_parser(name, help=help_text)
        p.add_argument(
            "run" if name == "resume" else "name", metavar="RUN" if name == "resume" else "NAME"
        )
        p.add_argument("--profile", metavar="NAME", help="signer profile for live checks")
        p.add_argument(
            "--settle",
            type=float,
            default=6.0,
            metavar="SECONDS",
            help="live checks poll twice this far apart (default 6; 0 = once)",
        )
        p.add_argument(
            "--wait",
            nargs="?",
            type=float,
            const=5.0,
            metavar="SECONDS",
            help="at an approval step, wait for the answer (polling every 5 s or SECONDS)",
        )
        _runs_dir_option(p)
        p.set_defaults(handler=_command(handler), findings=findings, actions=actions)
    p = book_sub.add_parser("approve", help="approve another operator's run (four eyes)")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--note", help="a note for the record")
    p.add_argument("--hash", metavar="PREFIX", help="refuse unless the step hash starts so")
    p.add_argument("--yes", action="store_true", help="do not ask (after reviewing the run)")
    _runs_dir_option(p)
    p.set_defaults(handler=_command("cmd_approve"))
    p = book_sub.add_parser("reject", help="reject another operator's run: it stops")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--reason", required=True, help="why (recorded)")
    _runs_dir_option(p)
    p.set_defaults(handler=_command("cmd_reject"))

    audit = subparsers.add_parser("audit", help="the run record: list, show, export, verify")
    _runs_dir_option(audit)
    audit.add_argument("--open", action="store_true", help="only runs still open")
    audit.set_defaults(handler=_command("cmd_audit_list"))
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION")
    p = audit_sub.add_parser("list", help="every run (default)")
    p.add_argument("--open", action="store_true", default=argparse.SUPPRESS, help="only open runs")
    _runs_dir_option(p)
    p.set_defaults(handler=_command("cmd_audit_list"))
    p = audit_sub.add_parser("show", help="one run, entry by entry")
    p.add_argument("run", metavar="RUN")
    _runs_dir_option(p)
    p.set_defaults(handler=_command("cmd_audit_show"))
    p = audit_sub.add_parser("export", help="a hand-over document for one run")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--md", action="store_true", required=True, help="Markdown (the format)")
    p.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    p.add_argument("--timeline", metavar="FILE", help="console timeline (default: state dir)")
    _runs_dir_option(p)
    p.set_defaults(handler=_command("cmd_audit_export"))
    p = audit_sub.add_parser("verify", help="check the hash chain (exit 1 if broken)")
    _runs_dir_option(p)
    p.set_defaults(handler=_command("cmd_audit_verify"))
