"""Finding a patron at the staff card desk: what the clerk typed, understood, and the
patrons it matches.

A clerk finds a patron by user number (typed or scanned: start/stop characters, full-width
digits and hyphens are accepted), by name in kanji or in kana (hiragana and half-width kana
fold to katakana; part of a name is enough), or by email address.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.cards.models import Card
from cardservice.cards.numbers import NumberFormat, may_be_number, normalise
from cardservice.errors import InvalidInput
from cardservice.mail.addresses import normalise_address
from cardservice.mail.errors import InvalidRecipient
from cardservice.patrons.models import Patron
from cardservice.patrons.names import InvalidKana, normalise_kana
from cardservice.text import search_text

SEARCH_MAX: Final = 128
RESULTS_MAX: Final = 50


class SearchKind(StrEnum):
    NUMBER = "number"
    EMAIL = "email"
    KANA = "kana"
    NAME = "name"


class SearchEmpty(InvalidInput):
    """Type a user number, a name or an email address."""

    code = "desk_search_empty"


class SearchTooLong(InvalidInput):
    """The search text is too long."""

    code = "desk_search_too_long"


@dataclass(frozen=True, slots=True)
class PatronQuery:
    """What the clerk typed, understood: one canonical number, an email fragment, or name
    fragments (kana normalised to katakana)."""

    kind: SearchKind
    terms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PatronHit:
    patron: Patron
    cards: list[Card]


@dataclass(frozen=True, slots=True)
class SearchResult:
    query: PatronQuery
    hits: list[PatronHit]
    more: bool  # more patrons matched than are listed


def parse_query(raw: str, fmt: NumberFormat) -> PatronQuery:
    """Understand the search box: an email when it holds ``@``, a user number when it starts
    with a digit (or a Codabar start character and a digit), kana when every word is kana,
    else a name. Raises ``SearchEmpty``, ``SearchTooLong`` or ``InvalidNumber`` (with its
    ``number_*`` code: a misread or mistyped number is said so, never searched as a name)."""
    if len(raw) > SEARCH_MAX:
        raise SearchTooLong(max=SEARCH_MAX)
    text = search_text(raw)
    if not text:
        raise SearchEmpty
    if "@" in text:
        return PatronQuery(SearchKind.EMAIL, (_email_term(raw),))
    if may_be_number(text):
        return PatronQuery(SearchKind.NUMBER, (normalise(fmt, text),))
    words = tuple(text.split(" "))
    try:
        kana = tuple(normalise_kana(word) for word in words)
    except InvalidKana:
        return PatronQuery(SearchKind.NAME, words)
    return PatronQuery(SearchKind.KANA, kana)


async def search(
    session: AsyncSession, query: PatronQuery, *, limit: int = RESULTS_MAX
) -> SearchResult:
    """Patrons matching ``query``, by kana order, with their cards (oldest first). A name
    matches when the family and given name written together contain every word typed."""
    statement = select(Patron)
    if query.kind is SearchKind.NUMBER:
        statement = statement.join(Card, Card.patron_id == Patron.id).where(
            Card.user_number == query.terms[0]
        )
    elif query.kind is SearchKind.EMAIL:
        statement = statement.where(Patron.email.icontains(query.terms[0], autoescape=True))
    elif query.kind is SearchKind.KANA:
        kana = Patron.family_kana + Patron.given_kana
        for word in query.terms:
            statement = statement.where(kana.contains(word, autoescape=True))
    else:
        name = Patron.family_name + Patron.given_name
        for word in query.terms:
            statement = statement.where(name.icontains(word, autoescape=True))
    patrons = list(
        await session.scalars(
            statement.order_by(Patron.family_kana, Patron.given_kana, Patron.id).limit(limit + 1)
        )
    )
    shown = patrons[:limit]
    cards: dict[int, list[Card]] = {patron.id: [] for patron in shown}
    if shown:
        for card in await session.scalars(
            select(Card).where(Card.patron_id.in_(list(cards))).order_by(Card.id)
        ):
            cards[card.patron_id].append(card)
    hits = [PatronHit(patron, cards[patron.id]) for patron in shown]
    return SearchResult(query=query, hits=hits, more=len(patrons) > limit)


def _email_term(raw: str) -> str:
    """A whole address in its stored form (``hanako@例え.jp`` finds ``hanako@xn--r8jz45g.jp``),
    else the fragment the clerk typed, as the search box folds it."""
    try:
        return normalise_address(raw)
    except InvalidRecipient:
        return search_text(raw).lower()
