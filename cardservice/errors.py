"""Domain errors with stable codes.

Services raise these; the web edge turns them into HTTP once (see ``web/errors.py``).
A code is part of the public contract: scanners, kiosks and the library system match on it,
so a code never changes meaning once shipped.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar


class Kind(StrEnum):
    """What sort of failure this is; the edge maps each kind to one HTTP status."""

    INVALID = "invalid"  # the input is wrong and the caller can fix it
    MALFORMED = "malformed"  # the request itself is not well formed (no form field can say)
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"  # the state does not allow it (already decided, already used)
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    LIMITED = "limited"  # rate limited
    UNAVAILABLE = "unavailable"


def _first_paragraph(doc: str | None) -> str:
    """A class docstring as a caller reads it: its first paragraph on one line (the source's
    line breaks and indentation are not part of the message)."""
    return " ".join((doc or "").strip().split("\n\n")[0].split())


class DomainError(Exception):
    """Base of every error the service reports to a caller.

    ``code`` is stable and machine-readable; ``message`` is for people; ``detail`` holds
    extra stable fields (for example the field name of a form error).
    """

    code: ClassVar[str] = "error"
    kind: ClassVar[Kind] = Kind.INVALID

    def __init__(self, message: str = "", *, code: str | None = None, **detail: Any) -> None:
        self.message = message or _first_paragraph(self.__class__.__doc__) or self.code
        if code is not None:
            self.code = code  # type: ignore[misc]  # an instance may refine its class code
        self.detail = detail
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.detail}


class InvalidInput(DomainError):
    """The input is not valid."""

    code = "invalid_input"


class NotFound(DomainError):
    """Not found."""

    code = "not_found"
    kind = Kind.NOT_FOUND


class Conflict(DomainError):
    """The request conflicts with the current state."""

    code = "conflict"
    kind = Kind.CONFLICT


class Unauthenticated(DomainError):
    """Authentication is required."""

    code = "unauthenticated"
    kind = Kind.UNAUTHENTICATED


class Forbidden(DomainError):
    """Not allowed."""

    code = "forbidden"
    kind = Kind.FORBIDDEN


class RateLimited(DomainError):
    """Too many requests; try again later."""

    code = "rate_limited"
    kind = Kind.LIMITED


class Unavailable(DomainError):
    """The service cannot answer right now; try again in a moment."""

    code = "temporarily_unavailable"
    kind = Kind.UNAVAILABLE


class ConfigurationError(Exception):
    """A setting or a library profile value is wrong; raised at start, names the key."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"{key}: {problem}")
