"""The real-PostgreSQL fixture holds an sBTC-signer-shaped schema and answers the docs' query."""

from __future__ import annotations

from signer_tui.sbtc import MIGRATIONS, VERIFIED_KEY_QUERY
from tests.conftest import SignerDb


def test_verified_key_query_returns_newest_verified_key(signer_db: SignerDb) -> None:
    with signer_db.connect() as conn:
        rows = conn.execute(VERIFIED_KEY_QUERY).fetchall()
        statuses = dict(
            conn.execute(
                "SELECT dkg_shares_status::text, count(*) FROM sbtc_signer.dkg_shares GROUP BY 1"
            ).fetchall()
        )
    keys = [bytes(r[0]) for r in rows]
    assert keys[0] == signer_db.state.newest_verified_key()
    assert keys[0] == signer_db.state.chain_key
    assert len(keys[0]) == 33 and keys[0][0] in (2, 3)
    assert len(keys) == 3
    # The seed holds every status, so the filter in the query is exercised.
    assert statuses == {"verified": 3, "unverified": 1, "failed": 1}


def test_newest_unverified_row_does_not_change_the_verified_key(signer_db: SignerDb) -> None:
    with signer_db.connect() as conn:
        conn.execute(
            "INSERT INTO sbtc_signer.dkg_shares SELECT '\\x02' || sha256('new'), "
            "tweaked_aggregate_key, encrypted_private_shares, public_shares, script_pubkey, "
            "signer_set_public_keys, signature_share_threshold, now(), 'unverified', "
            "started_at_bitcoin_block_hash, started_at_bitcoin_block_height "
            "FROM sbtc_signer.dkg_shares LIMIT 1"
        )
        newest_any = conn.execute(
            "SELECT dkg_shares_status::text FROM sbtc_signer.dkg_shares "
            "ORDER BY created_at DESC LIMIT 1"
        ).fetchone()
        verified = conn.execute(VERIFIED_KEY_QUERY).fetchone()
    assert newest_any == ("unverified",)
    assert verified is not None and bytes(verified[0]) == signer_db.state.newest_verified_key()


def test_schema_matches_the_reference(signer_db: SignerDb) -> None:
    with signer_db.connect() as conn:
        columns = conn.execute(
            "SELECT column_name, data_type, udt_name, is_nullable "
            "FROM information_schema.columns "
            "WHERE table_schema = 'sbtc_signer' AND table_name = 'dkg_shares' "
            "ORDER BY ordinal_position"
        ).fetchall()
        enum = conn.execute(
            "SELECT e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid "
            "JOIN pg_namespace n ON n.oid = t.typnamespace "
            "WHERE n.nspname = 'sbtc_signer' AND t.typname = 'dkg_shares_status' "
            "ORDER BY e.enumsortorder"
        ).fetchall()
        migrations = [
            r[0]
            for r in conn.execute(
                "SELECT key FROM public.__sbtc_migrations ORDER BY key"
            ).fetchall()
        ]
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'sbtc_signer'"
            ).fetchall()
        }
        pk = conn.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
            "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indrelid = 'sbtc_signer.dkg_shares'::regclass AND i.indisprimary"
        ).fetchall()
    assert [(c[0], c[2]) for c in columns] == [
        ("aggregate_key", "bytea"),
        ("tweaked_aggregate_key", "bytea"),
        ("encrypted_private_shares", "bytea"),
        ("public_shares", "bytea"),
        ("script_pubkey", "bytea"),
        ("signer_set_public_keys", "_bytea"),
        ("signature_share_threshold", "int4"),
        ("created_at", "timestamptz"),
        ("dkg_shares_status", "dkg_shares_status"),
        ("started_at_bitcoin_block_hash", "bytea"),
        ("started_at_bitcoin_block_height", "int8"),
    ]
    assert all(c[3] == "NO" for c in columns)
    assert [e[0] for e in enum] == ["unverified", "verified", "failed"]
    assert pk == [("aggregate_key",)]
    assert migrations == sorted(MIGRATIONS) and len(migrations) == 21
    assert "0002" not in " ".join(migrations)
    assert {
        "bitcoin_blocks",
        "stacks_blocks",
        "deposit_requests",
        "deposit_signers",
        "withdrawal_requests",
        "withdrawal_signers",
        "bitcoin_transactions",
        "bitcoin_tx_inputs",
        "bitcoin_tx_outputs",
        "bitcoin_tx_sighashes",
        "bitcoin_withdrawals_outputs",
        "bitcoin_withdrawal_tx_outputs",
        "completed_deposit_events",
        "withdrawal_accept_events",
        "withdrawal_reject_events",
        "withdrawal_create_events",
        "rotate_keys_transactions",
        "dkg_shares",
        "p2p_peers",
    } <= tables


def test_cluster_is_socket_only_and_private(signer_db: SignerDb) -> None:
    cluster = signer_db.cluster
    with signer_db.connect() as conn:
        listen = conn.execute("SHOW listen_addresses").fetchone()
        socket_dirs = conn.execute("SHOW unix_socket_directories").fetchone()
    assert listen == ("",)
    assert socket_dirs == (str(cluster.socket_dir),)
    assert (cluster.socket_dir.stat().st_mode & 0o777) == 0o700
