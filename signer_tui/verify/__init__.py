"""Backup verification: find PostgreSQL binaries, run a scratch cluster, restore, query."""
