"""Neutral PostgreSQL tooling shared by backup discovery (sources) and verification (verify).

* `types`, `archive`, `plain`, `identify` — what a pg_dump file is, read from its bytes;
* `installs` — the PostgreSQL installations here, and THE picker for a given backup;
* `listing` — `pg_restore --list` and the telling lines of a tool's stderr;
* `proc` — one process-group killer and one capturing runner for every external tool.

Nothing here imports `sources`, `verify`, `checks` or the UI.
"""
