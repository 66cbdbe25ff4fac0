"""The one error hierarchy: each error carries a user-facing message; the API maps
classes to HTTP status codes in one place (``mutuelle.api.errors``)."""

from __future__ import annotations


class MutuelleError(Exception):
    """Base of every error mutuelle raises on purpose."""

    status_code = 400
    error_code = "MutuelleError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, object]:
        """The JSON body the API returns for this error."""
        return {"error_code": self.error_code, "message": self.message}


class InvalidInput(MutuelleError):
    """A parameter, a form field or a file that cannot be accepted."""

    error_code = "InvalidInput"


class InvalidText(InvalidInput):
    """Text a member wrote that cannot be stored: a control character (NUL...), too long,
    empty where required; names the field (422, on every catalogue backend alike)."""

    status_code = 422
    error_code = "InvalidText"


class InvalidField(InvalidInput):
    """One field of a definition (an indicator's numerator, its code column...) that cannot be
    accepted: names the field and, for an expression, the position in it (422)."""

    status_code = 422
    error_code = "InvalidField"

    def __init__(self, field: str, message: str, *, position: int | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.position = position

    def to_dict(self) -> dict[str, object]:
        """The JSON body, with the field and the position."""
        return {**super().to_dict(), "field": self.field, "position": self.position}


class NotFound(MutuelleError):
    """An object that does not exist (or that the caller may not know of)."""

    status_code = 404
    error_code = "NotFound"


class Unauthenticated(MutuelleError):
    """The caller must sign in (or send a valid API key) to do this."""

    status_code = 401
    error_code = "Unauthenticated"


class Forbidden(MutuelleError):
    """The caller is known but may not do this."""

    status_code = 403
    error_code = "Forbidden"


class TooLarge(InvalidInput):
    """A file or a request over a configured limit."""

    status_code = 413
    error_code = "TooLarge"


class ImportFailed(InvalidInput):
    """A file that could not be imported; ``where`` says where (line, column, entry)."""

    status_code = 422
    error_code = "ImportFailed"

    def __init__(self, message: str, *, where: str | None = None) -> None:
        super().__init__(f"{message} ({where})" if where else message)
        self.reason = message
        self.where = where


class QueryError(MutuelleError):
    """An ODSQL query that cannot run; names the clause and the position in it."""

    error_code = "ODSQLError"

    def __init__(self, message: str, *, clause: str, position: int | None = None) -> None:
        where = f"clause '{clause}'" + (f" at position {position}" if position is not None else "")
        super().__init__(f"{message} ({where})")
        self.clause = clause
        self.position = position


class BudgetExceeded(MutuelleError):
    """A query that went over its time or row budget (the query itself must change)."""

    status_code = 400
    error_code = "QueryTooCostly"


class Busy(MutuelleError):
    """Too many queries at once: try again shortly (429 with Retry-After)."""

    status_code = 429
    error_code = "TooManyRequests"


class ResourceError(MutuelleError):
    """The server lacked a resource (disk space, a writable store, memory) to do what was asked:
    not the request's fault, and nothing was changed. ``mutuelle.store.resources`` makes them."""

    status_code = 503
    error_code = "ResourceUnavailable"


class StorageFull(ResourceError):
    """No space left (or the quota reached) where the server writes (507 Insufficient Storage)."""

    status_code = 507
    error_code = "StorageFull"


class StorageUnavailable(ResourceError):
    """The server may not write where it must: a read-only or forbidden store (503)."""

    status_code = 503
    error_code = "StorageUnavailable"


class OutOfMemory(ResourceError):
    """The server ran out of memory doing this; it may work later or with a smaller file (503)."""

    status_code = 503
    error_code = "OutOfMemory"
