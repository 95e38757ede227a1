"""Emails from Jinja templates: a subject, a plain-text body and an HTML alternative.

Each email ``name`` in language ``lang`` is two files under ``templates/email/``:
``{name}.{lang}.txt``, whose first line is ``Subject: ...``, and ``{name}.{lang}.html``
(extending ``_layout.html``). The subject is given the library's name (【…】 / [...]) and
the body the library's signature (``_signature.{lang}.txt``, ``_signature.html``) here.
Undefined variables are errors, so a missing value fails when the mail is queued instead of
reaching a patron as an empty gap.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from cardservice.datefilters import install_date_filters
from cardservice.i18n import in_language
from cardservice.mail.errors import MissingContext, UnknownTemplate
from cardservice.patrons.names import english_name

Language = Literal["ja", "en"]
LANGUAGES: tuple[Language, ...] = ("ja", "en")
TEMPLATE_DIR_ENV = "CARDSERVICE_TEMPLATE_DIR"
SUBJECT_PREFIX = "Subject:"

# Every email and the context it needs. Templates use exactly these, plus ``lang`` and (in
# HTML) ``subject``, which ``render`` supplies. ``library`` is a ``mail.letterhead.Letterhead``:
# ``render`` puts its name at the head of the subject and its signature at the end of the
# body. Nothing here is a password or a document image, and a test keeps it that way.
TEMPLATES: Mapping[str, frozenset[str]] = {
    "verify_email": frozenset({"link", "expires_hours", "library"}),
    "application_received": frozenset({"name", "procedure", "ready_on", "library"}),
    "registration_completed": frozenset(
        {"name", "user_number", "card_link", "expires_on", "library"}
    ),
    "application_rejected": frozenset(
        {"name", "procedure", "reason", "reinstated_number", "library"}
    ),
    "inquiry": frozenset({"name", "procedure", "question", "answer_link", "answer_by", "library"}),
    "application_cancelled": frozenset({"name", "procedure", "answer_by", "library"}),
    # After registration: recovery, password, procedures, notices.
    "number_reminder": frozenset({"patrons", "login_link", "library"}),
    "password_reset": frozenset({"name", "link", "expires_hours", "library"}),
    "password_changed": frozenset({"name", "library", "reset_link"}),
    "email_change_verify": frozenset({"name", "link", "expires_hours", "library"}),
    "email_changed": frozenset({"name", "new_email", "library"}),
    "reissue_completed": frozenset(
        {"name", "user_number", "old_user_number", "card_link", "expires_on", "eloan_notice"}
        | {"library"}
    ),
    "renewal_completed": frozenset({"name", "user_number", "expires_on", "card_link", "library"}),
    "details_changed": frozenset({"name", "library", "my_link"}),
    "expiry_reminder": frozenset({"name", "user_number", "expires_on", "renew_link", "library"}),
    "emergency_closure": frozenset({"notice_subject", "notice_body", "library"}),
}
# A context value named ``link`` or ``..._link`` is a page of this service: in an English
# email it asks for the page in English (``i18n.in_language``), which would otherwise open in
# Japanese in a browser that has not chosen a language (a phone's mail app, say).


def _links_in(lang: str, context: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: in_language(value, lang)
        for key, value in context.items()
        if (key == "link" or key.endswith("_link")) and isinstance(value, str)
    }


# How a subject names the library: 【横浜市立図書館】利用者番号のお知らせ /
# [Yokohama City Library] Your user number.
SUBJECT_LIBRARY = {"ja": "【{}】", "en": "[{}] "}


@dataclass(frozen=True, slots=True)
class RenderedMail:
    subject: str
    body_text: str
    body_html: str


def template_dir() -> Path:
    """The ``templates`` folder: ``CARDSERVICE_TEMPLATE_DIR`` or the one inside the package."""
    configured = os.environ.get(TEMPLATE_DIR_ENV, "").strip()
    if configured:
        return Path(configured).expanduser().resolve()
    return Path(__file__).resolve().parents[1] / "templates"


@lru_cache(maxsize=4)
def environment(root: Path) -> Environment:
    env = Environment(
        loader=FileSystemLoader(root / "email"),
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    install_date_filters(env)  # longdate, shortday, localtime: the same as on pages
    # ``Dear {{ name|english_name }},``: given name first for a name in the Latin alphabet.
    env.filters["english_name"] = english_name
    return env


def render(name: str, lang: str, context: Mapping[str, Any]) -> RenderedMail:
    """Render email ``name`` in ``lang``; raises if the name, language or a value is missing."""
    if name not in TEMPLATES or lang not in LANGUAGES:
        raise UnknownTemplate(template=name, language=lang)
    missing = TEMPLATES[name] - context.keys()
    if missing:
        raise MissingContext(template=name, missing=sorted(missing))
    env = environment(template_dir())
    library = context["library"]
    values = {**context, **_links_in(lang, context), "lang": lang}
    values["japanese_era"] = library.japanese_era
    text = env.get_template(f"{name}.{lang}.txt").render(values)
    subject, body_text = split_subject(text)
    subject = SUBJECT_LIBRARY[lang].format(library.name) + subject
    # Every body ends with the library's signature block, written once for all emails.
    signature = env.get_template(f"_signature.{lang}.txt").render(values)
    body_text = f"{body_text.rstrip()}\n\n{signature}"
    # The HTML layout uses the subject as its title and ends with the same signature.
    html = env.get_template(f"{name}.{lang}.html").render({**values, "subject": subject})
    return RenderedMail(subject=subject, body_text=body_text, body_html=html)


def split_subject(text: str) -> tuple[str, str]:
    """The ``Subject:`` first line and the body after it (blank lines between dropped)."""
    first, _, rest = text.partition("\n")
    if not first.startswith(SUBJECT_PREFIX):
        raise ValueError("an email text template must start with 'Subject: '")
    # One line only: a subject with a line break would be a header injection.
    subject = " ".join(first.removeprefix(SUBJECT_PREFIX).split())
    if not subject:
        raise ValueError("an email subject must not be empty")
    return subject, rest.lstrip("\n")
