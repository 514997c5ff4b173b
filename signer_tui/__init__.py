"""signer-tui: the on-call console for sBTC signer operators."""

__version__ = "0.1.0"
