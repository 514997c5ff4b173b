"""What one poll of a multi-call source returns: the main answer plus optional extras.

A failed extra (e.g. `/v3/health`, `getnetworkinfo`) must not lose the main answer, so it is
kept as None with its error title beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from signer_tui.model import Evidence
from signer_tui.sources.backup_types import BackupInventory, VerificationRecord
from signer_tui.sources.bitcoind import BlockchainInfo, NetworkInfo
from signer_tui.sources.hiro import ChainTip
from signer_tui.sources.stacks import RegistryKey, SignerData, StacksHealth, StacksInfo


@dataclass(frozen=True)
class StacksReading:
    info: StacksInfo
    health: StacksHealth | None  # None: not supported by this node, or failed (see error)
    health_error: str | None = None

    @property
    def evidence(self) -> tuple[Evidence, ...]:
        return (self.info.evidence,) + ((self.health.evidence,) if self.health else ())


@dataclass(frozen=True)
class BitcoindReading:
    chain: BlockchainInfo
    network: NetworkInfo | None
    network_error: str | None = None

    @property
    def evidence(self) -> tuple[Evidence, ...]:
        return (self.chain.evidence,) + ((self.network.evidence,) if self.network else ())


@dataclass(frozen=True)
class KeyReading:
    """The registry as one chain source sees it."""

    key: RegistryKey
    signer_data: SignerData | None = None
    signer_data_error: str | None = None
    # The independent API's own chain tip (None for the node, or when /extended failed).
    tip: ChainTip | None = None
    tip_error: str | None = None
    tip_evidence: Evidence | None = None

    @property
    def evidence(self) -> tuple[Evidence, ...]:
        return (self.key.evidence,) + ((self.tip_evidence,) if self.tip_evidence else ())


@dataclass
class BackupReading:
    """Backup discovery plus the restore-test history (which survives a failed discovery)."""

    inventory: BackupInventory | None
    history: list[VerificationRecord] = field(default_factory=list)
    read_error: str = ""
    observed_at: datetime | None = None

    @property
    def evidence(self) -> tuple[Evidence, ...]:
        return self.inventory.evidence if self.inventory is not None else ()
