"""Emails from Jinja templates: a subject, a plain-text body and an HTML alternative.

Each email ``name`` in language ``lang`` is two files under ``templates/email/``:
``{name}.{lang}.txt``, whose first line is ``Subject: ...``, and ``{name}.{lang}.html``.
Undefined variables are errors, so a missing value fails when the mail is queued instead of
reaching a patron as an empty gap.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context

from cardservice.calendar import written_date
from cardservice.mail.errors import MissingContext, UnknownTemplate

Language = Literal["ja", "en"]
LANGUAGES: tuple[Language, ...] = ("ja", "en")
TEMPLATE_DIR_ENV = "CARDSERVICE_TEMPLATE_DIR"
SUBJECT_PREFIX = "Subject:"

# Every email and the context it needs. Templates use exactly these, plus ``lang`` and (in
# HTML) ``subject``, which ``render`` supplies. Nothing here is a password or a document
# image, and a test keeps it that way.
TEMPLATES: Mapping[str, frozenset[str]] = {
    "verify_email": frozenset({"link", "expires_hours", "library_name", "sender_email"}),
    "application_received": frozenset({"name", "procedure", "ready_on", "library_name"}),
    "registration_completed": frozenset({"name", "user_number", "card_link", "expires_on"}),
    "application_rejected": frozenset(
        {"name", "procedure", "reason", "reinstated_number", "library_name"}
    ),
    "inquiry": frozenset({"name", "question", "answer_link", "answer_by"}),
    "application_cancelled": frozenset({"name", "why"}),
    # After registration: recovery, password, procedures, notices.
    "number_reminder": frozenset({"patrons", "login_link", "library_name"}),
    "password_reset": frozenset({"name", "link", "expires_hours", "library_name"}),
    "password_changed": frozenset({"name", "library_name", "reset_link"}),
    "email_change_verify": frozenset({"name", "link", "expires_hours", "library_name"}),
    "email_changed": frozenset({"name", "new_email", "library_name"}),
    "reissue_completed": frozenset(
        {"name", "user_number", "old_user_number", "card_link", "expires_on", "eloan_notice"}
    ),
    "renewal_completed": frozenset({"name", "user_number", "expires_on", "card_link"}),
    "details_changed": frozenset({"name", "library_name", "my_link"}),
    "expiry_reminder": frozenset({"name", "user_number", "expires_on", "renew_link"}),
    "emergency_closure": frozenset({"notice_subject", "notice_body", "library_name"}),
}


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


@pass_context
def long_date(context: Context, value: date) -> str:
    """A date as people write it in the mail's language (the ``longdate`` filter)."""
    return written_date(value, context["lang"])


@lru_cache(maxsize=4)
def environment(root: Path) -> Environment:
    env = Environment(
        loader=FileSystemLoader(root / "email"),
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["longdate"] = long_date
    return env


def render(name: str, lang: str, context: Mapping[str, Any]) -> RenderedMail:
    """Render email ``name`` in ``lang``; raises if the name, language or a value is missing."""
    if name not in TEMPLATES or lang not in LANGUAGES:
        raise UnknownTemplate(template=name, language=lang)
    missing = TEMPLATES[name] - context.keys()
    if missing:
        raise MissingContext(template=name, missing=sorted(missing))
    env = environment(template_dir())
    values = {**context, "lang": lang}
    text = env.get_template(f"{name}.{lang}.txt").render(values)
    subject, body_text = split_subject(text)
    # The HTML layout uses the subject as its title, so it is written only once.
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
