"""The mail domain's errors; each ``code`` is part of the public contract."""

from __future__ import annotations

from cardservice.errors import Conflict, InvalidInput, NotFound


class UnknownTemplate(InvalidInput):
    """There is no email template by that name or in that language."""

    code = "mail_unknown_template"


class MissingContext(InvalidInput):
    """The email template needs values that were not given."""

    code = "mail_missing_context"


class InvalidRecipient(InvalidInput):
    """The email address cannot receive mail."""

    code = "mail_invalid_recipient"


class MailNotFound(NotFound):
    """There is no such email."""

    code = "mail_not_found"


class MailNotFailed(Conflict):
    """Only an email that failed can be retried."""

    code = "mail_not_failed"
