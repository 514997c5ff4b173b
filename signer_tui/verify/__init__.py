"""Backup verification (orchestration only): restore into a scratch PostgreSQL, check, compare.

`run.verify_backup` dispatches to `dump` (pg_dump files, restored with pg_restore/psql) or
`physical` (pgBackRest/Barman sets, restored by the tool itself onto `restored_server`); both
end in `assess`, whose findings come from the pure `checks.restored` and `checks.keys`. The
format reader, install picker and process runner are in `signer_tui.pgdump`.
"""
