"""Typed errors raised by sources. Each carries a short, user-facing title.

A title is what an on-call operator reads in a pane row ("bitcoind: warming up"), so it must be
short and must never contain a secret. `detail` may be longer; `evidence` records the request.
"""

from __future__ import annotations

from signer_tui.model import Evidence


class SourceError(Exception):
    """Base of every expected failure of a source."""

    title = "source failed"

    def __init__(
        self, title: str | None = None, detail: str = "", evidence: Evidence | None = None
    ) -> None:
        self.title = title or type(self).title
        self.detail = detail
        self.evidence = evidence
        super().__init__(self.title if not detail else f"{self.title}: {detail}")


class SourceUnreachable(SourceError):
    title = "unreachable"


class SourceTimeout(SourceError):
    title = "timed out"


class SourceHTTPError(SourceError):
    title = "HTTP error"

    def __init__(
        self,
        title: str | None = None,
        detail: str = "",
        evidence: Evidence | None = None,
        status: int | None = None,
    ) -> None:
        self.status = status
        super().__init__(title, detail, evidence)


class SourceAuthError(SourceHTTPError):
    title = "authentication failed"


class SourceRateLimited(SourceHTTPError):
    title = "rate limited"

    def __init__(
        self,
        title: str | None = None,
        detail: str = "",
        evidence: Evidence | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(title, detail, evidence, status)


class SourceProtocolError(SourceError):
    """The service answered, but not in the shape its wire format promises."""

    title = "unexpected response"


class SourceTooLarge(SourceProtocolError):
    title = "response too large"


class SourceWarmingUp(SourceError):
    """bitcoind's -28 RPC_IN_WARMUP: it is alive but not ready yet."""

    title = "warming up"


class SourceNotConfigured(SourceError):
    title = "not configured"


class SecretUnavailable(SourceError):
    title = "secret unavailable"


class DatabaseError(SourceError):
    title = "database error"


class DatabaseAuthFailed(DatabaseError):
    title = "authentication failed"


class DatabaseUnreachable(DatabaseError, SourceUnreachable):
    title = "connection refused"


class DatabaseTimeout(DatabaseError, SourceTimeout):
    """Connecting, or a statement (statement_timeout), took too long."""

    title = "timed out"


class DatabaseNoSchema(DatabaseError):
    """Reachable, but not a signer database (or not one this account can see)."""

    title = "no sbtc_signer schema"


class DatabaseSchemaIncomplete(DatabaseError):
    """The sbtc_signer schema exists but a table the query needs does not."""

    title = "table missing"


class ToolNotInstalled(SourceNotConfigured):
    """An external command (pgbackrest, barman, pg_restore, ...) could not be found."""

    title = "not installed"


class ToolFailed(SourceError):
    """An external command ran but failed in a way its output does not explain."""

    title = "command failed"
