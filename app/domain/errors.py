"""Domain errors. Each carries the contract's error code and HTTP status; the API maps them once."""

from __future__ import annotations


class ConfigError(Exception):
    """Settings are missing or wrong; the process refuses to start. Each problem is one line naming its variable."""

    def __init__(self, *problems: str) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class ServiceUnavailable(Exception):
    """A backing service is down; names it and the variable that points at it."""

    def __init__(self, service: str, variable: str, detail: str = "") -> None:
        self.service = service
        self.variable = variable
        super().__init__(f"{service} is unreachable (check {variable}){': ' + detail if detail else ''}")


class DomainError(Exception):
    status = 400
    code = "invalid_request"
    retry_after: float | None = None

    def __init__(self, message: str = "", *, code: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message or self.code)
        if code is not None:
            self.code = code
        if retry_after is not None:
            self.retry_after = retry_after

    @property
    def message(self) -> str:
        return str(self)


class InvalidRequest(DomainError):
    """422; `field` names the field that broke a rule, where one did (the contract's `"field"`)."""

    status = 422
    code = "invalid_request"

    def __init__(self, message: str = "", *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message, code=code)
        self.field = field


class IdempotencyKeyReused(InvalidRequest):
    code = "idempotency_key_reused"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    """409 with a specific code: ended, not_started, paused, sold_out, limit_exceeded, ..."""

    status = 409
    code = "conflict"


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"
    retry_after = 1.0


class Unavailable(DomainError):
    status = 503
    code = "unavailable"
    retry_after = 1.0


class NotReady(Unavailable):
    code = "not_ready"
