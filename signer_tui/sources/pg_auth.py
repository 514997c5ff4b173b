"""The libpq authentication default, apart from the psycopg client so that checks (and every
command that only builds the pipeline) can name it without importing psycopg."""

from __future__ import annotations

# libpq >= 16: refuse to send a password unless the server proves it runs SCRAM.
DEFAULT_REQUIRE_AUTH = "scram-sha-256"
