"""Every domain's models, imported once so metadata and migrations see all tables."""

from cardservice.cards.models import Card, CardEvent, NumberSequence, TokenRevocation
from cardservice.mail.models import CaughtMail, OutboxRow
from cardservice.notices.models import Notice, NoticeDelivery
from cardservice.patrons.models import Patron, PatronDevice
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
    "CardEvent",
    "CaughtMail",
    "Inquiry",
    "LinkToken",
    "Notice",
    "NoticeDelivery",
    "NumberSequence",
    "OutboxRow",
    "Patron",
    "PatronDevice",
    "RateCounter",
    "RejectionTemplate",
    "StaffUser",
    "TokenRevocation",
]
