"""Create and seed an sBTC-signer-shaped PostgreSQL database from a `SimState`.

Used by the test fixtures, the demo and the benchmark. The DKG rows mirror
`state.dkg_rounds`, so the simulated chain and the database tell one consistent story;
`sync_dkg` re-applies them after a scenario change.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import psycopg

from signer_tui.sbtc import MIGRATIONS
from signer_tui.sim.state import SimState, fake_hash, fake_key


def schema_sql() -> str:
    return resources.files("signer_tui.sim").joinpath("signer_schema.sql").read_text()


def create_database(admin_conninfo: str, dbname: str) -> None:
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')


def _bytes(seed: str, size: int) -> bytes:
    """Deterministic filler bytes: the same seed gives the same DB (and the same dump size)."""
    out = b""
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}/{counter}".encode()).digest()
        counter += 1
    return out[:size]


def signer_set(state: SimState) -> list[bytes]:
    return [fake_key(f"{state.name}-signer-{i}") for i in range(state.signer_set_size)]


def load_schema(conn: psycopg.Connection[Any], migrations: tuple[str, ...] = MIGRATIONS) -> None:
    conn.execute(schema_sql())
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO public.__sbtc_migrations (key) VALUES (%s)", [(m,) for m in migrations]
        )


def _dkg_row(state: SimState, index: int) -> tuple[Any, ...]:
    round_ = state.dkg_rounds[index]
    key = round_.aggregate_key
    return (
        key,
        fake_key(f"tweaked-{key.hex()}"),
        # Real shares are encrypted blobs of a few hundred bytes; only non-emptiness matters.
        hashlib.sha512(key).digest() * 6,
        hashlib.sha256(b"public" + key).digest() * 4,
        b"\x51\x20" + key[1:],
        signer_set(state),
        round_.signature_share_threshold,
        round_.created_at,
        round_.status,
        bytes.fromhex(state.bitcoin_hash(round_.started_at_bitcoin_block_height)),
        round_.started_at_bitcoin_block_height,
    )


def sync_dkg(conn: psycopg.Connection[Any], state: SimState) -> None:
    """Make sbtc_signer.dkg_shares hold exactly the state's DKG rounds."""
    with conn.cursor() as cur:
        cur.execute("DELETE FROM sbtc_signer.dkg_shares")
        cur.executemany(
            "INSERT INTO sbtc_signer.dkg_shares (aggregate_key, tweaked_aggregate_key, "
            "encrypted_private_shares, public_shares, script_pubkey, signer_set_public_keys, "
            "signature_share_threshold, created_at, dkg_shares_status, "
            "started_at_bitcoin_block_hash, started_at_bitcoin_block_height) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [_dkg_row(state, i) for i in range(len(state.dkg_rounds))],
        )


def record_tips(conn: psycopg.Connection[Any], state: SimState, depth: int = 6) -> None:
    """Insert the newest bitcoin and Stacks blocks the signer would have observed by now."""
    now = datetime.now(UTC).replace(microsecond=0)  # fixed-width timestamps: stable dumps
    btc = state.bitcoin_height
    stx = state.stacks_height
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO sbtc_signer.bitcoin_blocks "
            "(block_hash, block_height, parent_hash, created_at, is_canonical) "
            "VALUES (%s, %s, %s, %s, TRUE) ON CONFLICT DO NOTHING",
            [
                (
                    bytes.fromhex(state.bitcoin_hash(h)),
                    h,
                    bytes.fromhex(state.bitcoin_hash(h - 1)),
                    now - timedelta(minutes=10 * (btc - h)),
                )
                for h in range(btc - depth, btc + 1)
            ],
        )
        cur.executemany(
            "INSERT INTO sbtc_signer.stacks_blocks "
            "(block_hash, block_height, parent_hash, bitcoin_anchor, created_at) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            [
                (
                    bytes.fromhex(state.stacks_hash(h)),
                    h,
                    bytes.fromhex(state.stacks_hash(h - 1)),
                    bytes.fromhex(state.bitcoin_hash(btc)),
                    now - timedelta(seconds=5 * (stx - h)),
                )
                for h in range(stx - depth, stx + 1)
            ],
        )


def seed(
    conn: psycopg.Connection[Any],
    state: SimState,
    *,
    bitcoin_blocks: int = 144,
    stacks_blocks: int = 1500,
    deposits: int = 40,
    withdrawals: int = 12,
) -> None:
    """Fill a freshly loaded schema with rows shaped like a signer that has been running."""
    now = datetime.now(UTC).replace(microsecond=0)  # fixed-width timestamps: stable dumps
    btc_tip = state.bitcoin_height
    stx_tip = state.stacks_height
    btc_start = btc_tip - bitcoin_blocks + 1
    stx_start = stx_tip - stacks_blocks + 1
    with conn.cursor() as cur:
        # Blocks are generated in SQL: much faster than shipping rows from Python.
        cur.execute(
            "INSERT INTO sbtc_signer.bitcoin_blocks "
            "(block_hash, block_height, parent_hash, created_at, is_canonical) "
            "SELECT sha256(('btc-' || %(name)s || h)::bytea), h, "
            "sha256(('btc-' || %(name)s || (h - 1))::bytea), "
            "%(now)s - make_interval(mins => 10 * (%(tip)s - h)::int), TRUE "
            "FROM generate_series(%(start)s::bigint, %(tip)s::bigint - 7) AS h",
            {"name": state.name, "now": now, "tip": btc_tip, "start": btc_start},
        )
        cur.execute(
            "INSERT INTO sbtc_signer.stacks_blocks "
            "(block_hash, block_height, parent_hash, bitcoin_anchor, created_at) "
            "SELECT sha256(('stx-' || %(name)s || h)::bytea), h, "
            "sha256(('stx-' || %(name)s || (h - 1))::bytea), "
            "sha256(('btc-' || %(name)s || (%(btip)s - (%(tip)s - h) / 120))::bytea), "
            "%(now)s - make_interval(secs => 5 * (%(tip)s - h)) "
            "FROM generate_series(%(start)s::bigint, %(tip)s::bigint - 7) AS h",
            {"name": state.name, "now": now, "tip": stx_tip, "btip": btc_tip, "start": stx_start},
        )
        signers = signer_set(state)
        for i in range(deposits):
            txid = fake_hash(f"{state.name}-deposit-{i}")
            cur.execute(
                "INSERT INTO sbtc_signer.deposit_requests (txid, output_index, spend_script, "
                "recipient, amount, lock_time, signers_public_key, sender_script_pub_keys, "
                "reclaim_script_hash, max_fee, created_at) "
                "VALUES (%s, 0, %s, %s, %s, 144, %s, %s, %s, %s, %s)",
                (
                    txid,
                    _bytes(f"{state.name}-1-{i}", 70),
                    _bytes(f"{state.name}-2-{i}", 22),
                    100_000 * (i + 1),
                    signers[0][1:],
                    [_bytes(f"{state.name}-3-{i}", 22)],
                    _bytes(f"{state.name}-4-{i}", 32),
                    (20_000).to_bytes(8, "big"),
                    now - timedelta(hours=6 * i),
                ),
            )
            cur.executemany(
                "INSERT INTO sbtc_signer.deposit_signers "
                "(txid, output_index, signer_pub_key, can_accept, can_sign) "
                "VALUES (%s, 0, %s, TRUE, TRUE)",
                [(txid, key) for key in signers],
            )
        for i in range(withdrawals):
            block = bytes.fromhex(state.stacks_hash(stx_tip - 100 * i - 10))
            cur.execute(
                "INSERT INTO sbtc_signer.withdrawal_requests (request_id, txid, block_hash, "
                "recipient, amount, max_fee, sender_address, bitcoin_block_height, created_at) "
                "VALUES (%s, %s, %s, %s, %s, 3000, %s, %s, %s)",
                (
                    i + 1,
                    fake_hash(f"{state.name}-withdrawal-{i}"),
                    block,
                    _bytes(f"{state.name}-5-{i}", 22),
                    50_000 * (i + 1),
                    "SP2J6ZY48GV1EZ5V2V5RB9MP66SW86PYKKNRV9EJ7",
                    btc_tip - 10 * i,
                    now - timedelta(hours=12 * i),
                ),
            )
        for round_ in state.dkg_rounds:
            if round_.status != "verified":
                continue
            cur.execute(
                "INSERT INTO sbtc_signer.rotate_keys_transactions (txid, block_hash, address, "
                "aggregate_key, signer_set, signatures_required, created_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (
                    fake_hash(f"rotate-{round_.aggregate_key.hex()}"),
                    fake_hash(f"rotate-block-{round_.aggregate_key.hex()}"),
                    state.deployer,
                    round_.aggregate_key,
                    signers,
                    round_.signature_share_threshold,
                    round_.created_at + timedelta(hours=1),
                ),
            )
        cur.executemany(
            "INSERT INTO sbtc_signer.p2p_peers (public_key, peer_id, address) VALUES (%s, %s, %s)",
            [
                (key, fake_hash(f"peer-{key.hex()}"), f"/ip4/10.0.{i}.7/tcp/4122")
                for i, key in enumerate(signers[1:])
            ],
        )
    sync_dkg(conn, state)
    record_tips(conn, state)


def build_signer_db(admin_conninfo: str, dbname: str, state: SimState, **seed_args: Any) -> None:
    """Create `dbname`, load the schema and seed it, in one transaction after the CREATE."""
    create_database(admin_conninfo, dbname)
    conninfo = psycopg.conninfo.make_conninfo(admin_conninfo, dbname=dbname)
    with psycopg.connect(conninfo) as conn:
        load_schema(conn)
        seed(conn, state, **seed_args)
