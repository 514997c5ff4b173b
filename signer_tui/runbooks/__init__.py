"""Runbook definitions (data files) and the engine that walks them."""
