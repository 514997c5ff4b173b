"""I/O layer: one module per service. No Textual, no verdicts."""
