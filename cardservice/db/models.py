"""Every domain's models, imported once so metadata and migrations see all tables."""

from cardservice.cards.models import Card, NumberSequence, TokenRevocation
from cardservice.patrons.models import Patron
from cardservice.security.models import ApiKey

__all__ = ["ApiKey", "Card", "NumberSequence", "Patron", "TokenRevocation"]
