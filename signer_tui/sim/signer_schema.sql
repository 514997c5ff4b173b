-- The sBTC signer's PostgreSQL schema in its final shape after the 21 migrations of
-- sBTC v1.3.x (0001 .. 0022, no 0002), written from the reference facts: schema `sbtc_signer`,
-- the enums, every table, the four functions, and the migrations ledger in `public`.

CREATE SCHEMA sbtc_signer;

CREATE TYPE sbtc_signer.output_type AS ENUM (
    'signers_output', 'signers_op_return', 'withdrawal', 'donation');
CREATE TYPE sbtc_signer.prevout_type AS ENUM ('signers_input', 'deposit');
CREATE TYPE sbtc_signer.dkg_shares_status AS ENUM ('unverified', 'verified', 'failed');

CREATE TABLE sbtc_signer.bitcoin_blocks (
    block_hash BYTEA PRIMARY KEY,
    block_height BIGINT NOT NULL,
    parent_hash BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    is_canonical BOOLEAN
);
CREATE INDEX ix_bitcoin_blocks_is_canonical ON sbtc_signer.bitcoin_blocks (is_canonical);
CREATE INDEX ix_bitcoin_blocks_height ON sbtc_signer.bitcoin_blocks (block_height);

CREATE TABLE sbtc_signer.stacks_blocks (
    block_hash BYTEA PRIMARY KEY,
    block_height BIGINT NOT NULL,
    parent_hash BYTEA NOT NULL,
    bitcoin_anchor BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX ix_stacks_blocks_parent_hash ON sbtc_signer.stacks_blocks (parent_hash);
CREATE INDEX ix_stacks_blocks_bitcoin_anchor ON sbtc_signer.stacks_blocks (bitcoin_anchor);

CREATE TABLE sbtc_signer.deposit_requests (
    txid BYTEA NOT NULL,
    output_index INTEGER NOT NULL,
    spend_script BYTEA NOT NULL,
    recipient BYTEA NOT NULL,
    amount BIGINT NOT NULL,
    lock_time BIGINT NOT NULL,
    signers_public_key BYTEA NOT NULL,
    sender_script_pub_keys BYTEA[] NOT NULL,
    reclaim_script_hash BYTEA NOT NULL,
    max_fee BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (txid, output_index)
);

CREATE TABLE sbtc_signer.deposit_signers (
    txid BYTEA NOT NULL,
    output_index INTEGER NOT NULL,
    signer_pub_key BYTEA NOT NULL,
    can_accept BOOLEAN NOT NULL,
    can_sign BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (txid, output_index, signer_pub_key),
    FOREIGN KEY (txid, output_index) REFERENCES sbtc_signer.deposit_requests (txid, output_index)
        ON DELETE CASCADE
);

CREATE TABLE sbtc_signer.withdrawal_requests (
    request_id BIGINT NOT NULL,
    txid BYTEA NOT NULL,
    block_hash BYTEA NOT NULL,
    recipient BYTEA NOT NULL,
    amount BIGINT NOT NULL,
    max_fee BIGINT NOT NULL,
    sender_address TEXT NOT NULL,
    bitcoin_block_height BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (request_id, block_hash)
);

CREATE TABLE sbtc_signer.withdrawal_signers (
    request_id BIGINT NOT NULL,
    block_hash BYTEA NOT NULL,
    signer_pub_key BYTEA NOT NULL,
    is_accepted BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (request_id, block_hash, signer_pub_key),
    FOREIGN KEY (request_id, block_hash)
        REFERENCES sbtc_signer.withdrawal_requests (request_id, block_hash) ON DELETE CASCADE
);

CREATE TABLE sbtc_signer.bitcoin_transactions (
    txid BYTEA NOT NULL,
    block_hash BYTEA NOT NULL,
    PRIMARY KEY (txid, block_hash)
);

CREATE TABLE sbtc_signer.bitcoin_tx_inputs (
    txid BYTEA NOT NULL,
    prevout_txid BYTEA NOT NULL,
    prevout_output_index INTEGER NOT NULL,
    amount BIGINT NOT NULL,
    script_pubkey BYTEA NOT NULL,
    prevout_type sbtc_signer.prevout_type NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (txid, prevout_txid, prevout_output_index)
);

CREATE TABLE sbtc_signer.bitcoin_tx_outputs (
    txid BYTEA NOT NULL,
    output_index INTEGER NOT NULL,
    amount BIGINT NOT NULL,
    script_pubkey BYTEA NOT NULL,
    output_type sbtc_signer.output_type NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (txid, output_index)
);

CREATE TABLE sbtc_signer.bitcoin_tx_sighashes (
    sighash BYTEA PRIMARY KEY,
    txid BYTEA NOT NULL,
    chain_tip BYTEA NOT NULL,
    prevout_txid BYTEA NOT NULL,
    prevout_output_index INTEGER NOT NULL,
    validation_result TEXT NOT NULL,
    prevout_type sbtc_signer.prevout_type NOT NULL,
    is_valid_tx BOOLEAN NOT NULL,
    will_sign BOOLEAN NOT NULL,
    aggregate_key BYTEA NOT NULL,
    x_only_public_key BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE sbtc_signer.bitcoin_withdrawals_outputs (
    bitcoin_txid BYTEA NOT NULL,
    bitcoin_chain_tip BYTEA NOT NULL,
    output_index INTEGER NOT NULL,
    request_id BIGINT NOT NULL,
    stacks_txid BYTEA NOT NULL,
    stacks_block_hash BYTEA NOT NULL,
    validation_result TEXT NOT NULL,
    is_valid_tx BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (bitcoin_txid, output_index)
);

CREATE TABLE sbtc_signer.bitcoin_withdrawal_tx_outputs (
    bitcoin_txid BYTEA NOT NULL,
    output_index INTEGER NOT NULL,
    request_id BIGINT NOT NULL,
    stacks_block_hash BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (bitcoin_txid, output_index)
);

CREATE TABLE sbtc_signer.completed_deposit_events (
    id BIGSERIAL PRIMARY KEY,
    txid BYTEA NOT NULL,
    block_hash BYTEA NOT NULL,
    amount BIGINT NOT NULL,
    bitcoin_txid BYTEA NOT NULL,
    output_index BIGINT NOT NULL,
    sweep_block_hash BYTEA NOT NULL,
    sweep_block_height BIGINT NOT NULL,
    sweep_txid BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE sbtc_signer.withdrawal_accept_events (
    txid BYTEA NOT NULL,
    block_hash BYTEA NOT NULL,
    request_id BIGINT PRIMARY KEY,
    signer_bitmap BYTEA NOT NULL,
    bitcoin_txid BYTEA NOT NULL,
    output_index BIGINT NOT NULL,
    fee BIGINT NOT NULL,
    sweep_block_hash BYTEA NOT NULL,
    sweep_block_height BIGINT NOT NULL,
    sweep_txid BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE sbtc_signer.withdrawal_reject_events (
    txid BYTEA NOT NULL,
    block_hash BYTEA NOT NULL,
    request_id BIGINT PRIMARY KEY,
    signer_bitmap BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- Marked DEPRECATED in 0003; still present.
CREATE TABLE sbtc_signer.withdrawal_create_events (
    txid BYTEA NOT NULL,
    block_hash BYTEA NOT NULL,
    request_id BIGINT PRIMARY KEY,
    amount BIGINT NOT NULL,
    sender TEXT NOT NULL,
    recipient BYTEA NOT NULL,
    max_fee BIGINT NOT NULL,
    block_height BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE sbtc_signer.rotate_keys_transactions (
    txid BYTEA NOT NULL,
    block_hash BYTEA NOT NULL,
    address TEXT NOT NULL,
    aggregate_key BYTEA NOT NULL,
    signer_set BYTEA[] NOT NULL,
    signatures_required INTEGER NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (txid, block_hash)
);

CREATE TABLE sbtc_signer.dkg_shares (
    aggregate_key BYTEA PRIMARY KEY,
    tweaked_aggregate_key BYTEA NOT NULL,
    encrypted_private_shares BYTEA NOT NULL,
    public_shares BYTEA NOT NULL,
    script_pubkey BYTEA NOT NULL,
    signer_set_public_keys BYTEA[] NOT NULL,
    signature_share_threshold INTEGER NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    dkg_shares_status sbtc_signer.dkg_shares_status NOT NULL,
    started_at_bitcoin_block_hash BYTEA NOT NULL,
    started_at_bitcoin_block_height BIGINT NOT NULL
);

CREATE TABLE sbtc_signer.p2p_peers (
    public_key BYTEA PRIMARY KEY,
    peer_id BYTEA NOT NULL,
    address TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_dialed_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE FUNCTION sbtc_signer.reverse_bytea(input BYTEA) RETURNS BYTEA
LANGUAGE SQL IMMUTABLE AS $$
    SELECT COALESCE(string_agg(substring(input FROM i FOR 1), ''::bytea ORDER BY i DESC), ''::bytea)
    FROM generate_series(1, length(input)) AS i
$$;

CREATE FUNCTION sbtc_signer.bitcoin_blockchain_of(chain_tip BYTEA, max_depth INTEGER)
RETURNS TABLE (block_hash BYTEA, block_height BIGINT, parent_hash BYTEA)
LANGUAGE SQL STABLE AS $$
    WITH RECURSIVE chain AS (
        SELECT b.block_hash, b.block_height, b.parent_hash, 1 AS depth
        FROM sbtc_signer.bitcoin_blocks b WHERE b.block_hash = chain_tip
        UNION ALL
        SELECT p.block_hash, p.block_height, p.parent_hash, c.depth + 1
        FROM sbtc_signer.bitcoin_blocks p JOIN chain c ON p.block_hash = c.parent_hash
        WHERE c.depth < max_depth
    )
    SELECT chain.block_hash, chain.block_height, chain.parent_hash FROM chain
$$;

CREATE FUNCTION sbtc_signer.bitcoin_blockchain_until(chain_tip BYTEA, min_block_height BIGINT)
RETURNS TABLE (block_hash BYTEA, block_height BIGINT, parent_hash BYTEA)
LANGUAGE SQL STABLE AS $$
    WITH RECURSIVE chain AS (
        SELECT b.block_hash, b.block_height, b.parent_hash
        FROM sbtc_signer.bitcoin_blocks b WHERE b.block_hash = chain_tip
        UNION ALL
        SELECT p.block_hash, p.block_height, p.parent_hash
        FROM sbtc_signer.bitcoin_blocks p JOIN chain c ON p.block_hash = c.parent_hash
        WHERE p.block_height >= min_block_height
    )
    SELECT chain.block_hash, chain.block_height, chain.parent_hash FROM chain
$$;

CREATE FUNCTION sbtc_signer.stacks_blockchain_of(chain_tip BYTEA)
RETURNS TABLE (block_hash BYTEA, block_height BIGINT, parent_hash BYTEA, bitcoin_anchor BYTEA)
LANGUAGE SQL STABLE AS $$
    WITH RECURSIVE chain AS (
        SELECT s.block_hash, s.block_height, s.parent_hash, s.bitcoin_anchor
        FROM sbtc_signer.stacks_blocks s WHERE s.block_hash = chain_tip
        UNION ALL
        SELECT p.block_hash, p.block_height, p.parent_hash, p.bitcoin_anchor
        FROM sbtc_signer.stacks_blocks p JOIN chain c ON p.block_hash = c.parent_hash
    )
    SELECT * FROM chain
$$;

CREATE TABLE public.__sbtc_migrations (key TEXT PRIMARY KEY);
