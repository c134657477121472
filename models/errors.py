"""Typed domain errors; handlers turn each into a polite message in the user's language."""

from enum import StrEnum


class DomainError(Exception):
    """Base class: something the user asked for cannot be done, for a reason they can be told."""


class NotAuthorised(DomainError):
    """The user may not see or do this."""


class Stale(StrEnum):
    """Why a button or code no longer applies; each has its own message (``error.stale.<reason>``)."""

    ANSWERED = "answered"  # the request, memo or question was already answered
    EXPIRED = "expired"  # its time ran out (a code, a flow left alone, an old list)
    NOT_YOURS = "not_yours"  # it belongs to someone else now
    GONE = "gone"  # what it points at no longer exists or is no longer listed
    OUTDATED = "outdated"  # a button of another step or an older version, or one tampered with


class StaleAction(DomainError):
    """A button or code that no longer applies; ``reason`` says why (the detail text is for the logs)."""

    def __init__(self, detail: str = "", reason: Stale = Stale.OUTDATED) -> None:
        super().__init__(detail or reason.value)
        self.reason = reason


class QuotaExceeded(DomainError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"daily limit of {limit} reached")
        self.limit = limit


class DuplicateRequest(DomainError):
    """The buyer already has an open request for this product."""


class InvalidCode(DomainError):
    """A one-time code that does not match, has expired or was used."""


class TooManyAttempts(DomainError):
    """Too many wrong codes in a row."""


class LinkRefused(DomainError):
    """Two accounts that cannot become one; ``reason`` names why (a message key suffix)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EventClosed(DomainError):
    """Registration for this event is over: its deadline passed, it ended or it was cancelled."""


class InvalidEvent(DomainError):
    """An event field that cannot be accepted; ``reason`` names why (a message key suffix)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AdminChangeRefused(DomainError):
    """A grant or revoke of admin rights that cannot be done; ``reason`` names why (a message key suffix)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ImportProblem(ValueError):
    """Why a catalogue file, or one row of it, cannot be imported: ``code`` names the message shown to people
    (``import.reason.<code>``) and ``params`` fill it; a ``column`` or ``columns`` parameter holds field names
    (``import.column.<field>``), other parameters are shown as they are."""

    def __init__(self, code: str, **params: object) -> None:
        details = ", ".join(f"{name}={value!r}" for name, value in params.items())
        super().__init__(f"{code} ({details})" if details else code)
        self.code = code
        self.params = params
