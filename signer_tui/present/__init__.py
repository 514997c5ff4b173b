"""Headless presenters of a Snapshot: text table, JSON, Prometheus textfile."""
