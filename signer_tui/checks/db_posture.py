"""posture.db.*: how signer-tui itself is connected to the signer's database.

* `posture.db.role` — WARN when the role is a superuser, may write to or create in
  sbtc_signer, or has admin powers: our session is read-only only by request (a session
  default and READ ONLY transactions), which such a role can override. UNKNOWN when the
  role could not be read.
* `posture.db.auth` — WARN when a password is configured but may be sent to a server that
  does not prove SCRAM (require_auth allows password/md5 or nothing): a fake or hijacked
  server would be handed the password in clear text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from signer_tui.checks.registry import Inputs, check
from signer_tui.config import Database
from signer_tui.model import Finding, Observation, Status
from signer_tui.sources.catalog import DB
from signer_tui.sources.pg_auth import DEFAULT_REQUIRE_AUTH

if TYPE_CHECKING:  # the psycopg client loads with the first DB poll, not with the checks
    from signer_tui.sources.pg_role import RoleFacts
    from signer_tui.sources.postgres import SignerDbFacts

ROLE_ADVICE = (
    "Connect as a dedicated role that can only SELECT (README: Reliability, the read-only "
    "role SQL); signer-tui's own READ ONLY transactions are a request such a role can override."
)


def effective_require_auth(db: Database, password_configured: bool) -> str | None:
    if db.require_auth is not None:
        return db.require_auth
    return DEFAULT_REQUIRE_AUTH if password_configured else None


def check_db_role(facts: RoleFacts | None, read_error: str = "") -> Finding:
    if facts is None:
        return Finding(
            "posture.db.role",
            Status.UNKNOWN,
            f"database role not read ({read_error or 'no data'})",
            "The privileges of the configured role could not be read.",
        )
    ev = (facts.evidence,)
    who = facts.user
    if facts.superuser:
        return Finding(
            "posture.db.role",
            Status.WARN,
            f"connected as superuser {who}",
            ROLE_ADVICE,
            ev,
        )
    powers: list[str] = []
    if facts.writable_tables:
        powers.append(f"may write {facts.writable_tables} sbtc_signer table(s)")
    if facts.can_create_in_schema:
        powers.append("may CREATE in sbtc_signer")
    if facts.admin_powers:
        powers.append("has CREATEROLE/CREATEDB/REPLICATION/BYPASSRLS")
    if powers:
        return Finding(
            "posture.db.role",
            Status.WARN,
            f"role {who} {', '.join(powers)}",
            ROLE_ADVICE,
            ev,
        )
    return Finding("posture.db.role", Status.OK, f"read-only role {who}", "", ev)


def check_db_auth(db: Database, *, password_configured: bool, facts: RoleFacts | None) -> Finding:
    ev = (facts.evidence,) if facts is not None else ()
    if not password_configured:
        return Finding(
            "posture.db.auth", Status.OK, "no password sent (peer, certificate or trust)", "", ev
        )
    required = effective_require_auth(db, password_configured) or ""
    methods = {m.strip() for m in required.split(",") if m.strip()}
    negated = all(m.startswith("!") for m in methods) and methods
    weak = (
        not methods
        or bool(negated and not {"!password", "!md5", "!none"} <= methods)
        or (not negated and bool(methods & {"password", "md5"}))
    )
    binding = f"; channel_binding={db.channel_binding}" if db.channel_binding else ""
    if weak:
        return Finding(
            "posture.db.auth",
            Status.WARN,
            f"password may be sent without SCRAM (require_auth={required or 'unset'})",
            "A server (or anything listening on its address) that asks for a clear-text or "
            "MD5 password is handed it. Set db.require_auth: scram-sha-256 and, with TLS, "
            "db.channel_binding: require.",
            ev,
        )
    return Finding(
        "posture.db.auth",
        Status.OK,
        f"password sent only with SCRAM (require_auth={required}{binding})",
        "",
        ev,
    )


def check_db_posture(
    db_obs: Observation[SignerDbFacts] | None, db: Database, *, password_configured: bool
) -> list[Finding]:
    """The entry the pipeline registers: the `db` source's observation and the profile's
    db config (password_configured = profile.db.password is not None)."""
    facts = db_obs.reading() if db_obs is not None else None
    role = facts.role if facts is not None else None
    if db_obs is None:
        error = "not read yet"
    elif not db_obs.ok:
        error = db_obs.error or "failed"
    else:
        error = dict(facts.problems).get("role", "") if facts is not None else ""
    return [
        check_db_role(role, error),
        check_db_auth(db, password_configured=password_configured, facts=role),
    ]


@check(needs=(DB,))
def db_posture_checks(inp: Inputs) -> list[Finding]:
    db = inp.profile.db
    return check_db_posture(inp.get(DB), db, password_configured=db.password is not None)
