"""The signer's database as an adversary: stuck, slow, junk rows, a role that can write,
and text columns carrying terminal escapes. Real PostgreSQL (tests/conftest.py) throughout."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from signer_tui.checks.db_posture import check_db_auth, check_db_role
from signer_tui.config import Database
from signer_tui.sources.errors import DatabaseError, DatabaseTimeout
from signer_tui.sources.postgres import SignerDatabase
from tests.conftest import SignerDb

# The README's read-only role, verbatim (test_the_readme_shows_this_sql keeps them in step).
READ_ONLY_ROLE_SQL = """\
CREATE ROLE signer_tui_ro LOGIN PASSWORD 'change-me';
GRANT CONNECT ON DATABASE signer TO signer_tui_ro;
GRANT USAGE ON SCHEMA sbtc_signer TO signer_tui_ro;
GRANT SELECT ON ALL TABLES IN SCHEMA sbtc_signer TO signer_tui_ro;
GRANT SELECT ON public.__sbtc_migrations TO signer_tui_ro;
ALTER DEFAULT PRIVILEGES IN SCHEMA sbtc_signer GRANT SELECT ON TABLES TO signer_tui_ro;
ALTER ROLE signer_tui_ro SET default_transaction_read_only = on;
"""


def test_the_readme_shows_this_sql() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert f"```sql\n{READ_ONLY_ROLE_SQL}```" in readme


def database(signer_db: SignerDb, **overrides: Any) -> SignerDatabase:
    params: dict[str, Any] = {
        "host": str(signer_db.cluster.socket_dir),
        "port": signer_db.cluster.port,
        "dbname": signer_db.dbname,
        "user": "postgres",
        "connect_timeout": 2,
        "statement_timeout": 1,
    }
    params.update(overrides)
    return SignerDatabase(**params)


def admin(signer_db: SignerDb, sql: str) -> None:
    with signer_db.connect() as conn:
        conn.execute(sql)


# -- stuck and slow ----------------------------------------------------------------------------


def _backend_pids(signer_db: SignerDb) -> list[int]:
    with signer_db.connect() as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'signer-tui' "
            "AND datname = %s",
            [signer_db.dbname],
        ).fetchall()
    return [int(r[0]) for r in rows]


def test_sigstopped_backend_is_bounded_by_the_poll_deadline(signer_db: SignerDb) -> None:
    """The server-side statement_timeout cannot fire in a frozen backend: our deadline must."""
    admin(
        signer_db,
        "CREATE OR REPLACE FUNCTION sbtc_signer.slow() RETURNS void LANGUAGE sql "
        "AS 'SELECT pg_sleep(30)'",
    )
    db = database(signer_db, connect_timeout=2, statement_timeout=1)
    stopped: list[int] = []

    def freeze() -> None:
        # Freeze our backend as soon as it exists (it runs its first queries then).
        end = time.monotonic() + 5
        while time.monotonic() < end and not stopped:
            for pid in _backend_pids(signer_db):
                os.kill(pid, signal.SIGSTOP)
                stopped.append(pid)
            time.sleep(0.005)

    thread = threading.Thread(target=freeze, daemon=True)
    thread.start()
    started = time.monotonic()
    try:
        with pytest.raises(DatabaseError) as caught:
            for _ in range(3):  # freezing may land after a fast first snapshot
                db.snapshot()
                if stopped:
                    db.snapshot()
    finally:
        thread.join(6)
        for pid in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
    elapsed = time.monotonic() - started
    assert stopped, "the backend was never frozen"
    # deadline (2 + 1 s) + cancel (1 s) + grace (0.5 s), with slack for a busy machine.
    assert elapsed < 3 * 3 + 4, elapsed
    assert isinstance(caught.value, DatabaseTimeout)
    assert "deadline" in caught.value.detail or caught.value.title in (
        "timed out",
        "query timed out",
    )


def test_slow_view_costs_one_deadline_not_one_per_query(signer_db: SignerDb) -> None:
    """Every table behind a lock: with a 1 s statement_timeout and eight reads, the poll
    still ends near connect_timeout + statement_timeout, not 8 x statement_timeout."""
    with signer_db.connect() as locker:
        locker.execute("BEGIN")
        for table in ("dkg_shares", "bitcoin_blocks", "stacks_blocks"):
            locker.execute(f"LOCK TABLE sbtc_signer.{table} IN ACCESS EXCLUSIVE MODE")
        db = database(signer_db, connect_timeout=2, statement_timeout=1)
        started = time.monotonic()
        with contextlib.suppress(DatabaseError):
            db.snapshot()
        elapsed = time.monotonic() - started
        locker.execute("ROLLBACK")
    assert elapsed < 2 + 1 + 1.5, elapsed


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts, reads whatever is sent, never answers: a PostgreSQL that went silent."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                conn, _ = sock.accept()
                held.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        sock.close()


def test_silent_server_is_a_timeout_within_the_deadline(silent_server: int) -> None:
    db = SignerDatabase(
        host="127.0.0.1", port=silent_server, connect_timeout=2, statement_timeout=1
    )
    started = time.monotonic()
    with pytest.raises(DatabaseTimeout):
        db.snapshot()
    assert time.monotonic() - started < 2 + 1 + 2


# -- junk --------------------------------------------------------------------------------------


def test_wrong_column_type_names_table_column_and_row(signer_db: SignerDb) -> None:
    admin(
        signer_db,
        "ALTER TABLE sbtc_signer.dkg_shares ALTER COLUMN started_at_bitcoin_block_height "
        "TYPE text USING 'not-a-height'",
    )
    facts = database(signer_db).snapshot()
    problem = dict(facts.problems)["newest_share"]
    assert problem.startswith("unexpected data: ")
    assert "sbtc_signer.dkg_shares.started_at_bitcoin_block_height, row 1" in problem
    assert "expected an integer, got str" in problem
    assert facts.verified_keys is not None  # the other parts are still read


def test_undecodable_text_names_table_column_and_row(pg_cluster: Any) -> None:
    """A SQL_ASCII database hands back bytes that are not UTF-8."""
    from signer_tui.sim.db import load_schema, seed
    from signer_tui.sim.state import SimState

    name = f"signer_ascii_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_cluster.conninfo(), autocommit=True) as conn:
        conn.execute(
            f"CREATE DATABASE {name} ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' "
            "TEMPLATE template0"
        )
    try:
        with psycopg.connect(pg_cluster.conninfo(name)) as conn:
            load_schema(conn)
            seed(conn, SimState())
        with psycopg.connect(pg_cluster.conninfo(name), autocommit=True) as conn:
            conn.execute("SET client_encoding = 'SQL_ASCII'")
            conn.execute(
                "INSERT INTO public.__sbtc_migrations (key) "
                "VALUES (convert_from('\\xff'::bytea, 'SQL_ASCII'))"
            )
        db = SignerDatabase(
            host=str(pg_cluster.socket_dir), port=pg_cluster.port, dbname=name, user="postgres"
        )
        facts = db.snapshot()
        problem = dict(facts.problems).get("migrations", "")
        assert "public.__sbtc_migrations.key, row" in problem, facts.problems
        assert "UnicodeDecodeError" not in problem.split(":")[0]
    finally:
        with psycopg.connect(pg_cluster.conninfo(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_escape_sequences_in_a_status_label_are_cleaned(signer_db: SignerDb) -> None:
    payload = "verified\x1b[2J\x1b]52;c;cHduZWQ=\x07\u202e\u2028x"
    admin(
        signer_db,
        "ALTER TABLE sbtc_signer.dkg_shares ALTER COLUMN dkg_shares_status TYPE text",
    )
    with signer_db.connect() as conn:
        conn.execute(
            "UPDATE sbtc_signer.dkg_shares SET dkg_shares_status = %s WHERE created_at = "
            "(SELECT max(created_at) FROM sbtc_signer.dkg_shares)",
            [payload],
        )
    facts = database(signer_db).snapshot()
    assert facts.newest_share is not None and facts.newest_share.share is not None
    label = facts.newest_share.share.status
    assert label == "verified x"
    for evidence in facts.evidence:
        for text in (evidence.raw, evidence.decoded):
            assert "\x1b" not in text and "\u202e" not in text and "\u2028" not in text


# -- the role ----------------------------------------------------------------------------------


def test_superuser_is_a_posture_warning(signer_db: SignerDb) -> None:
    facts = database(signer_db).snapshot()
    assert facts.role is not None and facts.role.superuser
    finding = check_db_role(facts.role)
    assert finding.status.value == "WARN"
    assert "superuser postgres" in finding.summary


def test_readme_read_only_role_reads_everything_and_cannot_write(signer_db: SignerDb) -> None:
    role = f"ro_{uuid.uuid4().hex[:8]}"
    sql = READ_ONLY_ROLE_SQL.replace("signer_tui_ro", role).replace(
        "DATABASE signer ", f'DATABASE "{signer_db.dbname}" '
    )
    with signer_db.connect() as conn:
        for statement in sql.split(";\n"):
            if statement.strip():
                conn.execute(statement)
    try:
        facts = database(signer_db, user=role).snapshot()
        assert facts.problems == ()
        assert facts.role is not None and not facts.role.can_write
        assert facts.role.session_read_only
        assert check_db_role(facts.role).status.value == "OK"
        # What is and is not enforced: READ WRITE can be requested, the write is refused.
        with psycopg.connect(
            signer_db.cluster.conninfo(signer_db.dbname).replace("user=postgres", f"user={role}"),
            autocommit=True,
        ) as conn:
            conn.execute("BEGIN READ WRITE")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("DELETE FROM sbtc_signer.dkg_shares")
    finally:
        with signer_db.connect() as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


def test_write_privileges_are_a_posture_warning(signer_db: SignerDb) -> None:
    role = f"rw_{uuid.uuid4().hex[:8]}"
    with signer_db.connect() as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"GRANT USAGE ON SCHEMA sbtc_signer TO {role}")
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA sbtc_signer TO {role}")
        conn.execute(f"GRANT SELECT ON public.__sbtc_migrations TO {role}")
        conn.execute(f"GRANT DELETE ON sbtc_signer.dkg_shares TO {role}")
    try:
        facts = database(signer_db, user=role).snapshot()
        finding = check_db_role(facts.role)
        assert finding.status.value == "WARN"
        assert "may write 1 sbtc_signer table(s)" in finding.summary
    finally:
        with signer_db.connect() as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


def test_role_not_read_is_unknown() -> None:
    finding = check_db_role(None, "timed out: no answer")
    assert finding.status.value == "UNKNOWN" and "timed out" in finding.summary


@pytest.mark.parametrize(
    ("require_auth", "password", "status"),
    [
        (None, True, "OK"),  # the default: SCRAM whenever a password is configured
        ("scram-sha-256", True, "OK"),
        ("password", True, "WARN"),
        ("md5,scram-sha-256", True, "WARN"),
        ("!password", True, "WARN"),
        ("!password,!md5,!none", True, "OK"),
        (None, False, "OK"),
    ],
)
def test_auth_posture(require_auth: str | None, password: bool, status: str) -> None:
    db = Database(require_auth=require_auth)
    assert check_db_auth(db, password_configured=password, facts=None).status.value == status


def test_password_is_not_sent_to_a_server_asking_for_clear_text() -> None:
    """A fake server asks for a clear-text password: libpq, told to demand SCRAM, hangs up
    instead of answering (issue 17: 'a fake server logged it in cleartext')."""
    from signer_tui.credentials import Secret

    received: list[bytes] = []
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)

    def serve() -> None:
        sock.settimeout(5)
        with contextlib.suppress(OSError):
            conn, _ = sock.accept()
            conn.settimeout(3)
            first = conn.recv(8)
            if first[4:8] == (80877103).to_bytes(4, "big"):  # SSLRequest: say no
                conn.sendall(b"N")
                conn.recv(4096)
            conn.sendall(b"R" + (8).to_bytes(4, "big") + (3).to_bytes(4, "big"))  # cleartext
            with contextlib.suppress(OSError):
                while data := conn.recv(4096):
                    received.append(data)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    secret = Secret("canary-db-password-" + uuid.uuid4().hex[:8])
    db = SignerDatabase(
        host="127.0.0.1", port=sock.getsockname()[1], password=secret, connect_timeout=2
    )
    with pytest.raises(DatabaseError) as caught:
        db.snapshot()
    thread.join(5)
    sock.close()
    assert secret.reveal().encode() not in b"".join(received)
    assert caught.value.title == "server not using SCRAM"


# -- `check` end to end -------------------------------------------------------------------------

CHECK_BOUND = 25.0  # seconds: DB deadline 2 + 1 s, cancel 1 s, grace 0.5 s, start-up, slack


def _check_with_db(
    tmp_path: Path, host: str, port: int, dbname: str
) -> tuple[float, dict[str, Any]]:
    import json
    import subprocess
    import sys

    from tests.faults.fakes import HEALTHY, FakeService, refused_port

    dead = f"http://127.0.0.1:{refused_port()}"
    node = FakeService(HEALTHY["stacks"])  # a good node: key.node then hangs on the DB alone
    config = tmp_path / "config.yaml"
    config.write_text(
        f"""\
signers:
  - name: m
    network: mainnet
    signer: {{api_url: {dead}, metrics_url: null, timeout: 1s}}
    db: {{host: "{host}", port: {port}, dbname: {dbname}, connect_timeout: 2s,
          statement_timeout: 1s}}
    bitcoind: {{url: {dead}, timeout: 1s}}
    stacks: {{rpc_url: {node.url}, timeout: 1s}}
    chain_api: {{url: null}}
releases: {{enabled: false}}
"""
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    for name in ("CONFIG", "STATE", "CACHE"):
        env[f"XDG_{name}_HOME"] = str(tmp_path / name.lower())
    started = time.monotonic()
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "signer_tui",
                "--config",
                str(config),
                "check",
                "--json",
                "--settle",
                "0",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=CHECK_BOUND * 4,
            check=False,
        )
    finally:
        node.close()
    elapsed = time.monotonic() - started
    assert "Traceback" not in result.stderr, result.stderr
    doc = json.loads(result.stdout)
    return elapsed, {f["id"]: f for p in doc["profiles"] for f in p["findings"]}


def test_check_returns_with_a_silent_database(silent_server: int, tmp_path: Path) -> None:
    elapsed, found = _check_with_db(tmp_path, "127.0.0.1", silent_server, "signer")
    assert elapsed < CHECK_BOUND, elapsed
    assert found["key.node"]["status"] != "OK"
    assert "DB" in found["key.node"]["summary"], found["key.node"]


def test_check_returns_with_a_sigstopped_backend(signer_db: SignerDb, tmp_path: Path) -> None:
    stopped: list[int] = []
    stop = threading.Event()

    def freeze() -> None:
        while not stop.is_set():
            for pid in _backend_pids(signer_db):
                if pid not in stopped:
                    os.kill(pid, signal.SIGSTOP)
                    stopped.append(pid)
            time.sleep(0.005)

    thread = threading.Thread(target=freeze, daemon=True)
    thread.start()
    try:
        elapsed, found = _check_with_db(
            tmp_path,
            str(signer_db.cluster.socket_dir),
            signer_db.cluster.port,
            signer_db.dbname,
        )
    finally:
        stop.set()
        thread.join(5)
        for pid in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
    assert stopped, "the check's backend was never frozen"
    assert elapsed < CHECK_BOUND, elapsed
    assert found["key.node"]["status"] != "OK"
    print(
        f"check with a frozen backend returned in {elapsed:.1f} s: {found['key.node']['summary']}"
    )
