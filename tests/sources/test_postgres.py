"""The signer-DB source against a real PostgreSQL holding a signer-shaped database."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from signer_tui.config import Database, SecretRef
from signer_tui.credentials import Secret
from signer_tui.sbtc import MAIN_TABLES, MIGRATIONS, VERIFIED_KEY_QUERY
from signer_tui.sources.errors import (
    DatabaseAuthFailed,
    DatabaseError,
    DatabaseNoSchema,
    DatabaseSchemaIncomplete,
    DatabaseTimeout,
    DatabaseUnreachable,
    SourceTimeout,
    SourceUnreachable,
)
from signer_tui.sources.postgres import (
    SignerDatabase,
    read_signer_facts,
    run_query,
)
from signer_tui.verify.cluster import ScratchCluster
from tests.conftest import SignerDb


def database(signer_db: SignerDb, **overrides: Any) -> SignerDatabase:
    params: dict[str, Any] = {
        "host": str(signer_db.cluster.socket_dir),
        "port": signer_db.cluster.port,
        "dbname": signer_db.dbname,
        "user": "postgres",
        "connect_timeout": 2,
        "statement_timeout": 10,
    }
    if "password" in overrides:
        # The test cluster trusts local connections: a password is sent only if allowed to
        # go to a server that asks for none (the default demands SCRAM).
        params["require_auth"] = "scram-sha-256,none"
    params.update(overrides)
    return SignerDatabase(**params)


def admin(signer_db: SignerDb, sql: str) -> None:
    with signer_db.connect() as conn:
        conn.execute(sql)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# -- healthy -------------------------------------------------------------------------------


def test_snapshot_matches_the_simulated_signer(signer_db: SignerDb) -> None:
    state = signer_db.state
    facts = database(signer_db).snapshot()

    verified = [r.aggregate_key for r in reversed(state.dkg_rounds) if r.status == "verified"]
    assert facts.problems == ()
    assert facts.verified_keys is not None
    assert list(facts.verified_keys.keys) == verified
    assert facts.newest_verified_key == state.newest_verified_key() == state.chain_key

    newest = max(state.dkg_rounds, key=lambda r: r.created_at)
    assert facts.newest_share is not None and facts.newest_share.share is not None
    assert facts.newest_share.share.aggregate_key == newest.aggregate_key
    assert facts.newest_share.share.status == newest.status
    assert facts.newest_share.share.started_at_bitcoin_block_height == (
        newest.started_at_bitcoin_block_height
    )
    # The template was seeded from another SimState instance a moment earlier.
    assert abs((facts.newest_share.share.created_at - newest.created_at).total_seconds()) < 600

    assert facts.dkg_round_count is not None
    assert facts.dkg_round_count.count == sum(r.status != "failed" for r in state.dkg_rounds) == 4

    assert facts.migrations is not None and facts.migrations.table_present
    assert facts.migrations.keys == tuple(sorted(MIGRATIONS))
    assert facts.migrations.last == "0022__add_is_canonical_to_bitcoin_blocks.sql"

    assert facts.chain_tips is not None
    assert facts.chain_tips.bitcoin.height == state.bitcoin_height
    assert facts.chain_tips.stacks.height == state.stacks_height
    assert facts.chain_tips.bitcoin.created_at is not None

    assert facts.encrypted_shares is not None
    assert facts.encrypted_shares.present is True
    assert facts.encrypted_shares.aggregate_key == state.newest_verified_key()
    assert facts.encrypted_shares.length == 64 * 6

    assert facts.table_sizes is not None
    sizes = dict(facts.table_sizes.sizes)
    assert set(MAIN_TABLES) <= set(sizes)
    assert facts.table_sizes.sizes[0][0] == "stacks_blocks"  # the largest table, as in life
    assert facts.table_sizes.database_bytes > facts.table_sizes.schema_bytes > 0

    assert facts.row_counts is not None
    counts = facts.row_counts.as_dict()
    assert list(counts) == list(MAIN_TABLES)
    with signer_db.connect() as conn:
        for table in MAIN_TABLES:
            row = conn.execute(f"SELECT count(*) FROM sbtc_signer.{table}").fetchone()
            assert row is not None and counts[table] == row[0], table
    assert counts["dkg_shares"] == len(state.dkg_rounds)
    assert counts["p2p_peers"] == state.signer_set_size - 1

    assert facts.server_version.split(".")[0].isdigit()


def test_evidence_shows_the_sql_and_never_a_password(signer_db: SignerDb) -> None:
    secret = Secret("evidence-pass-" + uuid.uuid4().hex)
    facts = database(signer_db, password=secret).snapshot()
    assert facts.verified_keys is not None
    evidence = facts.verified_keys.evidence
    assert evidence.request == VERIFIED_KEY_QUERY
    assert evidence.source == f"postgres postgres@{signer_db.cluster.socket_dir}:" + (
        f"{signer_db.cluster.port}/{signer_db.dbname}"
    )
    assert evidence.raw.splitlines()[0] == signer_db.state.chain_key.hex()  # type: ignore[union-attr]
    assert evidence.elapsed_ms is not None and evidence.elapsed_ms >= 0
    assert len(facts.evidence) == 9  # every part, the DKG rows included
    for item in facts.evidence:
        assert secret.reveal() not in repr(item)
    assert secret.reveal() not in repr(database(signer_db, password=secret))


def test_single_reads_agree_with_the_snapshot(signer_db: SignerDb) -> None:
    db = database(signer_db)
    facts = db.snapshot()
    assert facts.verified_keys is not None and facts.newest_share is not None
    assert db.verified_keys().keys == facts.verified_keys.keys
    assert db.newest_share().share == facts.newest_share.share
    assert facts.dkg_round_count is not None and facts.migrations is not None
    assert db.dkg_round_count().count == facts.dkg_round_count.count
    assert db.migrations().keys == facts.migrations.keys
    assert facts.chain_tips is not None and facts.row_counts is not None
    assert db.chain_tips().bitcoin == facts.chain_tips.bitcoin
    assert db.row_counts(("dkg_shares",)).counts == (("dkg_shares", 5),)
    assert facts.encrypted_shares is not None and facts.table_sizes is not None
    assert db.encrypted_shares_ok().length == facts.encrypted_shares.length
    assert {n for n, _ in db.table_sizes().sizes} == {n for n, _ in facts.table_sizes.sizes}


def test_newest_row_of_any_status_is_not_the_verified_key(signer_db: SignerDb) -> None:
    admin(
        signer_db,
        "INSERT INTO sbtc_signer.dkg_shares SELECT '\\x03' || sha256('pending'), "
        "tweaked_aggregate_key, encrypted_private_shares, public_shares, script_pubkey, "
        "signer_set_public_keys, signature_share_threshold, now(), 'unverified', "
        "started_at_bitcoin_block_hash, 912345 FROM sbtc_signer.dkg_shares LIMIT 1",
    )
    db = database(signer_db)
    newest = db.newest_share().share
    assert newest is not None
    assert newest.status == "unverified"
    assert newest.started_at_bitcoin_block_height == 912345
    assert newest.key_hex.startswith("03")
    assert db.verified_keys().newest == signer_db.state.newest_verified_key()
    assert db.dkg_round_count().count == 5  # unverified rounds count, failed ones do not


def test_read_signer_facts_works_on_any_connection(signer_db: SignerDb) -> None:
    """The verifier runs the same reads on its own (writable, non-autocommit) connection."""
    with psycopg.connect(signer_db.conninfo) as conn:
        facts = read_signer_facts(conn, source="restored")
        assert conn.info.transaction_status != psycopg.pq.TransactionStatus.INERROR
        conn.execute("SELECT 1")  # still usable
    assert facts.newest_verified_key == signer_db.state.newest_verified_key()
    assert facts.verified_keys is not None and facts.verified_keys.evidence.source == "restored"
    with signer_db.connect() as conn:
        facts = read_signer_facts(conn, tables=("dkg_shares", "no_such_table"))
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert facts.row_counts is not None
    assert facts.row_counts.counts == (("dkg_shares", 5), ("no_such_table", None))


def test_session_is_read_only_with_timeouts_and_a_name(signer_db: SignerDb) -> None:
    db = database(signer_db, statement_timeout=7.5)
    with db.session() as conn:
        settings = conn.execute(
            "SELECT current_setting('default_transaction_read_only'), "
            "current_setting('statement_timeout'), current_setting('application_name')"
        ).fetchone()
        assert settings == ("on", "7500ms", "signer-tui")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("DELETE FROM sbtc_signer.dkg_shares")
        with pytest.raises(DatabaseError) as caught:
            run_query(conn, "INSERT INTO sbtc_signer.p2p_peers VALUES ('\\x01', '\\x02', 'x')")
        assert caught.value.title == "read-only session"
    with signer_db.connect() as conn:
        row = conn.execute("SELECT count(*) FROM sbtc_signer.dkg_shares").fetchone()
    assert row == (5,)


# -- unusual contents ----------------------------------------------------------------------


def test_empty_encrypted_shares_and_no_verified_key(signer_db: SignerDb) -> None:
    admin(
        signer_db,
        "UPDATE sbtc_signer.dkg_shares SET encrypted_private_shares = '' "
        "WHERE aggregate_key = (SELECT aggregate_key FROM sbtc_signer.dkg_shares "
        "WHERE dkg_shares_status = 'verified' ORDER BY created_at DESC LIMIT 1)",
    )
    shares = database(signer_db).encrypted_shares_ok()
    assert shares.present is False and shares.length == 0
    assert shares.aggregate_key == signer_db.state.newest_verified_key()

    admin(signer_db, "UPDATE sbtc_signer.dkg_shares SET dkg_shares_status = 'unverified'")
    facts = database(signer_db).snapshot()
    assert facts.verified_keys is not None and facts.verified_keys.keys == ()
    assert facts.newest_verified_key is None
    assert facts.encrypted_shares is not None and facts.encrypted_shares.present is None
    assert facts.verified_keys.evidence.decoded == "no verified key"


def test_empty_tables_give_unknown_tips_not_zero(signer_db: SignerDb) -> None:
    admin(signer_db, "TRUNCATE sbtc_signer.stacks_blocks, sbtc_signer.dkg_shares")
    facts = database(signer_db).snapshot()
    assert facts.chain_tips is not None
    assert facts.chain_tips.stacks.height is None and facts.chain_tips.stacks.created_at is None
    assert facts.chain_tips.bitcoin.height == signer_db.state.bitcoin_height
    assert facts.newest_share is not None and facts.newest_share.share is None
    assert facts.dkg_round_count is not None and facts.dkg_round_count.count == 0


def test_missing_migrations_table_is_a_result(signer_db: SignerDb) -> None:
    admin(signer_db, "DROP TABLE public.__sbtc_migrations")
    db = database(signer_db)
    migrations = db.migrations()
    assert migrations.table_present is False
    assert migrations.keys == () and migrations.last is None
    assert migrations.evidence.decoded == "no migrations ledger"
    facts = db.snapshot()
    assert facts.migrations == replace_evidence(facts.migrations, migrations)
    assert facts.newest_verified_key == signer_db.state.newest_verified_key()


def replace_evidence(a: Any, b: Any) -> Any:
    """b with a's evidence, to compare results taken at different times."""
    from dataclasses import replace

    return replace(b, evidence=a.evidence)


def test_missing_table_costs_only_its_part(signer_db: SignerDb) -> None:
    admin(signer_db, "DROP TABLE sbtc_signer.p2p_peers")
    admin(signer_db, "DROP TABLE sbtc_signer.dkg_shares")
    db = database(signer_db)
    with pytest.raises(DatabaseSchemaIncomplete) as caught:
        db.verified_keys()
    assert caught.value.title == "table missing"
    assert "dkg_shares" in caught.value.detail
    assert caught.value.evidence is not None
    assert caught.value.evidence.request == VERIFIED_KEY_QUERY

    facts = db.snapshot()
    assert facts.verified_keys is None and facts.newest_share is None
    assert facts.encrypted_shares is None and facts.dkg_round_count is None
    failed = dict(facts.problems)
    assert set(failed) == {
        "verified_keys",
        "newest_share",
        "dkg_round_count",
        "encrypted_shares",
        "dkg_rows",
    }
    assert failed["verified_keys"].startswith("table missing: ")
    assert facts.chain_tips is not None and facts.migrations is not None
    assert facts.row_counts is not None
    assert facts.row_counts.as_dict()["p2p_peers"] is None
    assert facts.row_counts.as_dict()["dkg_shares"] is None
    assert facts.row_counts.as_dict()["bitcoin_blocks"] == 144


def test_database_without_the_schema(signer_db: SignerDb) -> None:
    name = f"empty_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(signer_db.cluster.conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        db = database(signer_db, dbname=name)
        with pytest.raises(DatabaseNoSchema) as caught:
            db.snapshot()
        assert caught.value.title == "no sbtc_signer schema"
        assert name in caught.value.detail
        with pytest.raises(DatabaseNoSchema):
            db.verified_keys()
    finally:
        with psycopg.connect(signer_db.cluster.conninfo(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


# -- timeouts ------------------------------------------------------------------------------


def test_statement_timeout_on_pg_sleep(signer_db: SignerDb) -> None:
    db = database(signer_db, statement_timeout=0.3)
    with db.session() as conn:
        started = time.monotonic()
        with pytest.raises(DatabaseTimeout) as caught:
            run_query(conn, "SELECT pg_sleep(10)", source=db.source)
        elapsed = time.monotonic() - started
        assert isinstance(caught.value, SourceTimeout)
        assert caught.value.title == "query timed out"
        assert "statement timeout" in caught.value.detail
        assert caught.value.evidence is not None
        assert caught.value.evidence.request == "SELECT pg_sleep(10)"
        rows, _ = run_query(conn, "SELECT 42")  # the session survives its timeout
        assert rows == [(42,)]
    assert elapsed < 2


def test_statement_timeout_behind_a_lock(signer_db: SignerDb) -> None:
    """A migration holding an exclusive lock must not hang the console."""
    with signer_db.connect() as locker:
        locker.execute("BEGIN")
        locker.execute("LOCK TABLE sbtc_signer.dkg_shares IN ACCESS EXCLUSIVE MODE")
        db = database(signer_db, statement_timeout=0.3)
        started = time.monotonic()
        with pytest.raises(DatabaseTimeout):
            db.verified_keys()
        assert time.monotonic() - started < 2
        facts = db.snapshot()
        locker.execute("ROLLBACK")
    failed = dict(facts.problems)
    assert failed["verified_keys"].startswith("query timed out: ")
    assert facts.verified_keys is None
    assert facts.chain_tips is not None  # other tables are still read
    assert facts.chain_tips.bitcoin.height == signer_db.state.bitcoin_height


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A TCP port that accepts connections (kernel backlog) but never says a word."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def test_connect_timeout(silent_listener: int) -> None:
    db = SignerDatabase(host="127.0.0.1", port=silent_listener, connect_timeout=1)
    started = time.monotonic()
    with pytest.raises(DatabaseTimeout) as caught:
        db.snapshot()
    elapsed = time.monotonic() - started
    # libpq's minimum connect_timeout is 2 s.
    assert 1.5 < elapsed < 5
    assert caught.value.title == "timed out"


def test_connection_lost_mid_query(signer_db: SignerDb) -> None:
    db = database(signer_db)
    with db.session() as conn:
        pid = conn.info.backend_pid

        def kill() -> None:
            time.sleep(0.3)
            admin(signer_db, f"SELECT pg_terminate_backend({pid})")

        killer = threading.Thread(target=kill)
        killer.start()
        started = time.monotonic()
        with pytest.raises(DatabaseUnreachable) as caught:
            run_query(conn, "SELECT pg_sleep(10)")
        killer.join()
    assert caught.value.title == "connection lost"
    assert time.monotonic() - started < 5


# -- connection failures -------------------------------------------------------------------


def test_connection_refused_tcp_and_socket(tmp_path: Any) -> None:
    started = time.monotonic()
    with pytest.raises(DatabaseUnreachable) as caught:
        SignerDatabase(host="127.0.0.1", port=free_port()).snapshot()
    assert caught.value.title == "connection refused"
    assert isinstance(caught.value, SourceUnreachable)
    assert caught.value.evidence is not None
    assert caught.value.evidence.request.startswith("connect host=127.0.0.1 ")
    with pytest.raises(DatabaseUnreachable) as caught:
        SignerDatabase(host=str(tmp_path), port=5432).verified_keys()
    assert caught.value.title == "connection refused"
    assert time.monotonic() - started < 5


def test_unknown_host() -> None:
    started = time.monotonic()
    with pytest.raises(DatabaseError) as caught:
        SignerDatabase(host="signer-db.invalid", port=5432, connect_timeout=2).snapshot()
    # Without a resolver the lookup may also just time out; either way it is typed and bounded.
    assert caught.value.title in ("unknown host", "timed out")
    assert time.monotonic() - started < 10


def test_unknown_role_is_an_authentication_failure(signer_db: SignerDb) -> None:
    with pytest.raises(DatabaseAuthFailed) as caught:
        database(signer_db, user="no_such_role").snapshot()
    assert caught.value.title == "authentication failed"
    assert "no_such_role" in caught.value.detail


def test_unknown_database(signer_db: SignerDb) -> None:
    with pytest.raises(DatabaseError) as caught:
        database(signer_db, dbname="no_such_db").snapshot()
    assert caught.value.title == "no such database"


def test_server_text_is_scrubbed_of_secrets(signer_db: SignerDb) -> None:
    """libpq never quotes a password, but whatever it quotes is scrubbed anyway."""
    secret = Secret(f"pw{uuid.uuid4().hex[:12]}")
    db = database(signer_db, dbname=secret.reveal(), password=secret)
    with pytest.raises(DatabaseError) as caught:
        db.snapshot()
    error = caught.value
    assert error.title == "no such database"
    assert "***" in error.detail
    for text in (str(error), error.detail, repr(error.evidence), repr(error.args)):
        assert secret.reveal() not in text


@contextlib.contextmanager
def password_role(cluster: ScratchCluster, password: str) -> Iterator[str]:
    """A role that must log in with a password, by a pg_hba.conf line for that role only."""
    hba = cluster.datadir / "pg_hba.conf"
    try:
        original = hba.read_text()
        hba.write_text(original)
    except OSError as exc:
        pytest.skip(f"cannot edit pg_hba.conf of the test cluster: {exc}")
    role = f"pw_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    try:
        hba.write_text(f"local all {role} scram-sha-256\n" + original)
        with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
            conn.execute("SELECT pg_reload_conf()")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # the reload is asynchronous
            try:
                psycopg.connect(cluster.conninfo().replace("user=postgres", f"user={role}")).close()
            except psycopg.OperationalError:
                break
            time.sleep(0.05)
        yield role
    finally:
        hba.write_text(original)
        with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
            conn.execute("SELECT pg_reload_conf()")
            conn.execute(f"DROP ROLE IF EXISTS {role}")


def test_wrong_password(pg_cluster: ScratchCluster) -> None:
    right = "correct-horse-" + uuid.uuid4().hex[:6]
    wrong = Secret("wrong-battery-" + uuid.uuid4().hex[:6])
    with password_role(pg_cluster, right) as role:
        params: dict[str, Any] = {
            "host": str(pg_cluster.socket_dir),
            "port": pg_cluster.port,
            "dbname": "postgres",
            "user": role,
        }
        with pytest.raises(DatabaseAuthFailed) as caught:
            SignerDatabase(password=wrong, **params).snapshot()
        error = caught.value
        assert error.title == "authentication failed"
        assert "password authentication failed" in error.detail
        for text in (str(error), error.detail, repr(error.evidence)):
            assert wrong.reveal() not in text and right not in text
        # The right password gets in (and finds no signer schema in `postgres`).
        with pytest.raises(DatabaseNoSchema):
            SignerDatabase(password=Secret(right), **params).snapshot()


def test_from_profile() -> None:
    config = Database(
        host="db.internal",
        port=6543,
        dbname="signer",
        user="monitor",
        password=SecretRef(kind="env", name="PGPW"),
        sslmode="require",
        connect_timeout="3s",  # type: ignore[arg-type]
        statement_timeout="1m",  # type: ignore[arg-type]
    )
    secret = Secret("profile-secret-value")
    db = SignerDatabase.from_profile(config, secret)
    params = db._params()
    assert params["host"] == "db.internal" and params["port"] == 6543
    assert params["user"] == "monitor" and params["sslmode"] == "require"
    assert params["connect_timeout"] == 3
    assert params["options"] == "-c default_transaction_read_only=on -c statement_timeout=60000"
    assert params["application_name"] == "signer-tui"
    assert params["password"] == secret.reveal()
    assert db.source == "postgres monitor@db.internal:6543/signer"
    assert secret.reveal() not in repr(db)


def test_dkg_rows_carry_each_rounds_signer_set_and_threshold(signer_db: SignerDb) -> None:
    from signer_tui.sim.db import signer_set

    state = signer_db.state
    facts = database(signer_db).snapshot()
    assert facts.dkg_rows is not None
    rows = facts.dkg_rows.rows
    assert [r.share.aggregate_key for r in rows] == [
        r.aggregate_key for r in sorted(state.dkg_rounds, key=lambda r: r.created_at, reverse=True)
    ]
    newest = facts.dkg_rows.newest
    assert newest is not None
    assert list(newest.signer_set) == signer_set(state)
    assert newest.threshold == state.dkg_rounds[-1].signature_share_threshold
    assert "signature_share_threshold" in facts.dkg_rows.evidence.request
    assert facts.dkg_rows.row_for(newest.share.aggregate_key) is newest
