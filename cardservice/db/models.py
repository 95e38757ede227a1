"""Every domain's models, imported once so metadata and migrations see all tables.

Every way into the database imports this module first: the app and the CLI's card, patron
and demo work through ``cardservice.services``, every command through ``cli.common.run``,
and the migrations through their ``env.py``. A table's foreign key may name a table of
another domain (cards name ``patrons``), which SQLAlchemy must know before the first flush,
whichever command runs first in a fresh process. A new model module is added here
(tests/unit/db/test_model_registry.py checks that none is missing).
"""

from cardservice.cards.event_cursors import CardEventCursor
from cardservice.cards.feed_log import FeedEntry
from cardservice.cards.models import Card, CardEvent, NumberSequence, TokenRevocation
from cardservice.events.models import WebhookDelivery, WebhookEndpoint
from cardservice.mail.models import CaughtMail, OutboxRow
from cardservice.notices.models import Notice, NoticeDelivery
from cardservice.passkit.models import ApplePass, ApplePassRegistration
from cardservice.patrons.models import Patron, PatronDevice
from cardservice.registration.models import (
    Application,
    ApplicationDocument,
    Inquiry,
    RejectionTemplate,
)
from cardservice.security.models import ApiKey, LinkToken, RateCounter
from cardservice.sip2.models import Sip2Kiosk
from cardservice.staff.models import AuditEntry, StaffUser

__all__ = [
    "ApiKey",
    "ApplePass",
    "ApplePassRegistration",
    "Application",
    "ApplicationDocument",
    "AuditEntry",
    "Card",
    "CardEvent",
    "CardEventCursor",
    "CaughtMail",
    "FeedEntry",
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
    "Sip2Kiosk",
    "StaffUser",
    "TokenRevocation",
    "WebhookDelivery",
    "WebhookEndpoint",
]
