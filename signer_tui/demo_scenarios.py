"""The names of the demo's incidents, for `demo --scenario` choices.

A literal, so `signer-tui --help` need not import the demo (and with it psycopg, the
simulators and the verification code). tests/unit/test_lazy_imports.py keeps it equal to
`signer_tui.demo.INCIDENTS`.
"""

from __future__ import annotations

INCIDENT_NAMES = (
    "rotate-key",
    "stall-bitcoind",
    "stop-signer",
    "advisory",
    "skip-backup",
    "signer-set-change",
    "pending-rotation",
    "eol-bitcoind",
    "fork-split",
    "reset",
)
