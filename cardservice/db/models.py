"""Every domain's models, imported once so metadata and migrations see all tables."""

from cardservice.cards.models import Card, NumberSequence, TokenRevocation
from cardservice.mail.models import CaughtMail, OutboxRow
from cardservice.patrons.models import Patron
from cardservice.security.models import ApiKey, LinkToken, RateCounter
from cardservice.staff.models import AuditEntry, StaffUser

__all__ = [
    "ApiKey",
    "AuditEntry",
    "Card",
    "CaughtMail",
    "LinkToken",
    "NumberSequence",
    "OutboxRow",
    "Patron",
    "RateCounter",
    "StaffUser",
    "TokenRevocation",
]
