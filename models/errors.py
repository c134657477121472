"""Typed domain errors; handlers turn each into a polite message in the user's language."""


class DomainError(Exception):
    """Base class: something the user asked for cannot be done, for a reason they can be told."""


class NotAuthorised(DomainError):
    """The user may not see or do this."""


class StaleAction(DomainError):
    """A button or code that no longer applies (already answered, expired, tampered with)."""


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
