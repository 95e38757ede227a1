"""Email addresses as people type them, made into the one form the service stores and mails.

Every address the service takes (applying, forgotten number, password reset, email change,
login, the desk search, patron import, the ``patron create`` command, the outbox) goes
through :func:`normalise_address`, so an address typed twice in different ways is one
address everywhere: in duplicate checks, rate-limit keys, logins and the mail relay.

The rules, decided once:

- **Invisible characters go.** Zero-width spaces, bidi marks (U+200E, U+200F), the BOM and
  control characters (Unicode categories Cc, Cf, Cs: ``text.INVISIBLE_CATEGORIES``) are
  removed wherever they are, as are spaces at either end. A phone keyboard or a copied
  signature adds them; nobody means them.
- **Width.** Full-width ASCII typed through a Japanese IME (``ｈａｎａｋｏ＠ｅｘａｍｐｌｅ．ｊｐ``)
  becomes half-width (jaconv). Nothing else is width-folded: a non-ASCII local part is
  kept as typed (NFC only), because NFKC would change which mailbox it names.
- **The domain is stored and sent in IDNA (ASCII) form** (``hanako@例え.jp`` is stored as
  ``hanako@xn--r8jz45g.jp``; UTS #46 mapping by email-validator), so the message needs
  no SMTPUTF8 unless the local part itself is not ASCII.
- **Lower case.** The whole address is lower-cased, as the service always stored it: no
  mailbox provider a patron uses tells ``Hanako`` from ``hanako``, and a family or a
  duplicate check must find the same address however it was typed.
- **Quoted local parts and the Japanese carriers' legacy addresses.** Before 2009 docomo
  and au let subscribers choose local parts with two dots in a row or a dot at either end
  (``taro..yamada@docomo.ne.jp``, ``.taro@ezweb.ne.jp``, ``taro.@docomo.ne.jp``); many still
  use them and the carriers still deliver to them. RFC 5321 writes such a local part as a
  quoted string. We accept these, for any domain (the receiving server is the judge of its
  own mailboxes), typed with or without the quotes, and store them in their canonical
  quoted form (``"taro..yamada"@docomo.ne.jp``), which is what goes in the To header and
  in ``RCPT TO``. Any other local part that needs quoting (spaces, ``@``, backslashes,
  quotes: ``"taro yamada"@example.jp``) is refused: no patron's mailbox has one, and each
  is more likely a mistake than an address. Quotes around a plain local part are dropped
  (``"hanako"@example.jp`` is ``hanako@example.jp``).
- **Non-ASCII local parts** (``花子@example.jp``, RFC 6531) are accepted; they need a mail
  server with SMTPUTF8, and one without it fails the email permanently with a reason
  staff can read (``mail.smtp``).
- Deliverability (DNS) is not checked here: the link sent to the address is the check.

Syntax and IDNA are email-validator's (2.x, https://github.com/JoshData/python-email-validator).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Final

import jaconv
from email_validator import EmailNotValidError, ValidatedEmail, validate_email

from cardservice.mail.errors import InvalidRecipient
from cardservice.text import INVISIBLE_CATEGORIES

# RFC 5322 atext and the dot: what a carrier's legacy local part is made of.
_DOTTED_LOCAL: Final = re.compile(r"^(?=.*[^.])[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$")
# Typed input longer than this is not an address (the longest valid one is 254 octets).
MAX_TYPED_LENGTH: Final = 1024
# The common case, which needs no Unicode work: a lower-case ASCII dot-atom local part (a
# subset of what email-validator takes, so the answer is the same) at a checked domain.
_PLAIN_LOCAL: Final = re.compile(r"[a-z0-9_%+-]+(?:\.[a-z0-9_%+-]+)*")


def normalise_address(raw: str, *, field: str = "email") -> str:
    """The stored, sendable form of the address ``raw`` as a person typed it.

    Returns ``local@ascii-domain`` in lower case, at most 254 characters: the local part
    quoted only when it is a carrier's legacy dotted one (see the module docstring for
    every rule). Raises :class:`~cardservice.mail.errors.InvalidRecipient` (stable code
    ``mail_invalid_recipient``, detail ``field``) for anything that is not such an address.
    """
    if raw.isascii():  # most addresses: the same answer, without the Unicode work
        plain = raw.strip().lower()
        local, at, domain = plain.rpartition("@")
        if at and len(local) <= 64 and len(plain) <= 254 and _PLAIN_LOCAL.fullmatch(local):
            checked_domain = _ascii_domain(domain)
            if checked_domain is not None:
                return f"{local}@{checked_domain}"
    return _normalised(raw, field)


def _normalised(raw: str, field: str) -> str:
    """:func:`normalise_address` without its shortcut for plain addresses."""
    text = _visible(raw[:MAX_TYPED_LENGTH])
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        raise InvalidRecipient(field=field)
    if len(local) > 2 and local.startswith('"') and local.endswith('"'):
        local = local[1:-1]  # judged by what is inside the quotes
        if not _DOTTED_LOCAL.match(local):
            raise InvalidRecipient(field=field)
    if _DOTTED_LOCAL.match(local) and _misplaced_dots(local):
        local = f'"{local}"'
    try:
        checked = _validated(f"{local}@{domain}")
    except EmailNotValidError:
        raise InvalidRecipient(field=field) from None
    return f"{checked.local_part}@{checked.ascii_domain}".lower()


def needs_smtputf8(address: str) -> bool:
    """Whether a stored address (from :func:`normalise_address`) has a non-ASCII local
    part, which only a server offering SMTPUTF8 (RFC 6531) can take."""
    return not address.isascii()


@functools.lru_cache(maxsize=1024)
def _ascii_domain(domain: str) -> str | None:
    """A domain as email-validator checks and writes it (IDNA), or None; an import has
    few domains among many rows, and checking one is most of checking an address."""
    try:
        return _validated(f"x@{domain}").ascii_domain.lower()
    except EmailNotValidError:
        return None


def _validated(candidate: str) -> ValidatedEmail:
    checked = validate_email(
        candidate,
        check_deliverability=False,
        allow_quoted_local=True,
        allow_smtputf8=True,
        allow_domain_literal=False,
        allow_display_name=False,
        strict=True,  # RFC 5321's 64 octets for the local part, which servers enforce
    )
    if checked.local_part.startswith('"') and not _DOTTED_LOCAL.match(checked.local_part[1:-1]):
        raise EmailNotValidError("a quoted local part other than a carrier's legacy one")
    return checked


def _visible(raw: str) -> str:
    """``raw`` without invisible characters, full-width ASCII as half-width, NFC, trimmed."""
    kept = "".join(ch for ch in raw if unicodedata.category(ch) not in INVISIBLE_CATEGORIES)
    narrow = jaconv.z2h(kept, kana=False, ascii=True, digit=True)
    return unicodedata.normalize("NFC", narrow.replace("\u3000", " ")).strip()


def _misplaced_dots(local: str) -> bool:
    return local.startswith(".") or local.endswith(".") or ".." in local
