"""Facts about the sBTC signer that several layers need (from the reference facts)."""

from __future__ import annotations

REGISTRY_CONTRACT = "sbtc-registry"
AGGREGATE_KEY_FUNCTION = "get-current-aggregate-pubkey"
SIGNER_DATA_FUNCTION = "get-current-signer-data"
AGGREGATE_KEY_VAR = "current-aggregate-pubkey"

# Default sbtc-registry deployers. Testnet has no single answer; the signer testnet's is used.
DEPLOYERS = {
    "mainnet": "SM3VDXK3WZZSA84XXFKAFAF15NNZX32CTSG82JFQ4",
    "testnet": "SNGWPN3XDAQE673MXYXF81016M50NHF5X5PWWM70",
    "regtest": "SN3R84XZYA63QS28932XQF3G1J8R9PC3W76P9CSQS",
}

# Shares not verified within this many bitcoin blocks become 'failed' (signer default).
DKG_VERIFICATION_WINDOW = 10

# The docs' backup-verification query.
VERIFIED_KEY_QUERY = (
    "SELECT aggregate_key FROM sbtc_signer.dkg_shares "
    "WHERE dkg_shares_status = 'verified' ORDER BY created_at DESC"
)

MIGRATIONS = (
    "0001__create_schema.sql",
    "0003__create_tables.sql",
    "0004__create_functions.sql",
    "0005__create_sighashes_and_withdrawal_outputs_tables.sql",
    "0006__fix_stacks_event_block_hashes.sql",
    "0007__create_bitcoin_blockchain_from.sql",
    "0008__create_indices_bitcoin_tx_tables.sql",
    "0009__drop_sweep_tables.sql",
    "0010__add_bitcoin_tx_related_indices.sql",
    "0011__add_aggregate_key_sighashes_table.sql",
    "0012__dkg_verification_extensions.sql",
    "0013__consolidate_withdrawal_tables.sql",
    "0014__add_bitcoin_tx_outputs_.sql",
    "0015__drop_transactions_tx_column.sql",
    "0016__modify_rotate_keys_transactions_table.sql",
    "0017__remove_stacks_transactions_table.sql",
    "0018__store_reclaim_script_hash.sql",
    "0019__p2p_peers.sql",
    "0020__drop_reclaim_script_column.sql",
    "0021__alter_max_fee_column.sql",
    "0022__add_is_canonical_to_bitcoin_blocks.sql",
)

# The last migration file shipped in each release tag.
LAST_MIGRATION_BY_RELEASE = {
    "v1.0.0": "0014__add_bitcoin_tx_outputs_.sql",
    "v1.0.1": "0015__drop_transactions_tx_column.sql",
    "v1.0.2": "0015__drop_transactions_tx_column.sql",
    "v1.0.3": "0015__drop_transactions_tx_column.sql",
    "v1.1.0-rc1": "0018_store_reclaim_script_hash.sql",
    "v1.1.0": "0019__p2p_peers.sql",
    "v1.1.1": "0019__p2p_peers.sql",
    "v1.2.0": "0020__drop_reclaim_script_column.sql",
    "v1.3.0": "0022__add_is_canonical_to_bitcoin_blocks.sql",
    "v1.3.1": "0022__add_is_canonical_to_bitcoin_blocks.sql",
    "v1.3.2": "0022__add_is_canonical_to_bitcoin_blocks.sql",
    "v1.3.3": "0022__add_is_canonical_to_bitcoin_blocks.sql",
}

KNOWN_LAST_MIGRATIONS = frozenset(LAST_MIGRATION_BY_RELEASE.values())

# Tables whose row counts are compared between a restored backup and the live DB.
MAIN_TABLES = (
    "dkg_shares",
    "bitcoin_blocks",
    "stacks_blocks",
    "deposit_requests",
    "withdrawal_requests",
    "rotate_keys_transactions",
    "p2p_peers",
)

# Default ports of the reference deployment.
PORTS = {
    "p2p": 4122,
    "signer_api": 8801,
    "signer_metrics": 9184,
    "blocklist_client": 3032,
    "postgres": 5432,
    "bitcoind_rpc": 8332,
    "stacks_rpc": 20443,
    "stacks_prometheus": 9153,
}


def short_key(key: bytes | str | None) -> str:
    """THE abbreviation of an aggregate key, everywhere (key pane, DB evidence, backups):
    the first 8 and last 6 hex digits, so two keys that differ are told apart at a glance."""
    if key is None:
        return "none"
    text = key.hex() if isinstance(key, bytes) else key
    return text if len(text) <= 16 else f"{text[:8]}…{text[-6:]}"
