"""Who signer-tui is connected to the signer's database as, and what that role could do.

Read-only on our side is a session default plus explicit READ ONLY transactions: both are
requests a role with write privileges could override. The only enforcement that holds is a
role that cannot write, so these facts feed a posture check (checks/db_posture.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from signer_tui.model import Evidence
from signer_tui.sources import pg_rows

# Any write or ownership-like power over the signer's data, as the server itself reports it.
ROLE_QUERY = """
SELECT current_user::text,
       r.rolsuper,
       r.rolcreaterole OR r.rolcreatedb OR r.rolreplication OR r.rolbypassrls,
       COALESCE(has_schema_privilege('sbtc_signer', 'CREATE'), false),
       (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'sbtc_signer' AND c.relkind IN ('r', 'p')
           AND (has_table_privilege(c.oid, 'INSERT') OR has_table_privilege(c.oid, 'UPDATE')
                OR has_table_privilege(c.oid, 'DELETE')
                OR has_table_privilege(c.oid, 'TRUNCATE')
                OR pg_has_role(c.relowner, 'USAGE'))),
       current_setting('default_transaction_read_only')
FROM pg_roles r WHERE r.rolname = current_user
"""


@dataclass(frozen=True)
class RoleFacts:
    user: str
    superuser: bool
    admin_powers: bool  # CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS
    can_create_in_schema: bool
    writable_tables: int  # sbtc_signer tables this role may INSERT/UPDATE/DELETE/TRUNCATE or owns
    session_read_only: bool
    used_password: bool  # libpq sent a password (so require_auth matters)
    ssl_in_use: bool
    require_auth: str | None  # what the connection demanded of the server
    channel_binding: str | None
    evidence: Evidence

    @property
    def can_write(self) -> bool:
        return self.superuser or self.can_create_in_schema or self.writable_tables > 0


def read_role(
    conn: psycopg.Connection[Any],
    run: Callable[..., tuple[list[tuple[Any, ...]], Evidence]],
    *,
    source: str,
    require_auth: str | None,
    channel_binding: str | None,
) -> RoleFacts:
    """`run` is postgres.run_query (passed in: this module must not import its caller)."""
    rows, evidence = run(conn, ROLE_QUERY, source=source, table="pg_roles")
    if not rows:
        raise pg_rows.JunkData(detail="pg_roles has no row for current_user")
    user, superuser, admin, create, writable, read_only = rows[0]
    place = "pg_roles (current_user)"
    facts = RoleFacts(
        user=pg_rows.as_text(user, place, 64),
        superuser=pg_rows.as_bool(superuser, place),
        admin_powers=pg_rows.as_bool(admin, place),
        can_create_in_schema=pg_rows.as_bool(create, place),
        writable_tables=pg_rows.as_int(writable, place),
        session_read_only=str(read_only) == "on",
        used_password=bool(conn.pgconn.used_password),
        ssl_in_use=bool(conn.pgconn.ssl_in_use),
        require_auth=require_auth,
        channel_binding=channel_binding,
        evidence=evidence,
    )
    decoded = (
        f"connected as {facts.user}: superuser={facts.superuser} "
        f"writable_tables={facts.writable_tables} create_in_schema={facts.can_create_in_schema} "
        f"password={facts.used_password} tls={facts.ssl_in_use}"
    )
    return RoleFacts(**{**facts.__dict__, "evidence": evidence.with_decoded(decoded)})
