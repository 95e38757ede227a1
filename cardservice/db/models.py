"""Every domain's models, imported once so metadata and migrations see all tables."""

from cardservice.cards.models import Card, NumberSequence, TokenRevocation
from cardservice.mail.models import CaughtMail, OutboxRow
from cardservice.patrons.models import Patron
from cardservice.registration.models import (
    Application,
    ApplicationDocument,
    Inquiry,
    RejectionTemplate,
)
from cardservice.security.models import ApiKey, LinkToken, RateCounter
from cardservice.staff.models import AuditEntry, StaffUser

__all__ = [
    "ApiKey",
    "Application",
    "ApplicationDocument",
    "AuditEntry",
    "Card",
    "CaughtMail",
    "Inquiry",
    "LinkToken",
    "NumberSequence",
    "OutboxRow",
    "Patron",
    "RateCounter",
    "RejectionTemplate",
    "StaffUser",
    "TokenRevocation",
]
