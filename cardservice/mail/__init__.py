"""Email: the transactional outbox, rendering, the SMTP relay and the dev mail catcher.

Domains queue mail with ``enqueue(session, OutgoingMail(...))`` inside their own
transaction; ``MailRelay`` delivers it; ``MailCatcher`` stands in for a mail server in dev.
"""

from cardservice.mail.background import mail_background
from cardservice.mail.catcher import (
    MailCatcher,
    effective_smtp_url,
    extract_links,
    get_caught,
    list_caught,
    uses_catcher,
)
from cardservice.mail.errors import (
    InvalidRecipient,
    MailNotFailed,
    MailNotFound,
    MissingContext,
    UnknownTemplate,
)
from cardservice.mail.models import CaughtMail, MailStatus, OutboxRow
from cardservice.mail.outbox import OutgoingMail, enqueue, failed_messages, retry_failed
from cardservice.mail.relay import MailRelay
from cardservice.mail.render import TEMPLATES, Language, template_dir

__all__ = [
    "TEMPLATES",
    "CaughtMail",
    "InvalidRecipient",
    "Language",
    "MailCatcher",
    "MailNotFailed",
    "MailNotFound",
    "MailRelay",
    "MailStatus",
    "MissingContext",
    "OutboxRow",
    "OutgoingMail",
    "UnknownTemplate",
    "effective_smtp_url",
    "enqueue",
    "extract_links",
    "failed_messages",
    "get_caught",
    "list_caught",
    "mail_background",
    "retry_failed",
    "template_dir",
    "uses_catcher",
]
