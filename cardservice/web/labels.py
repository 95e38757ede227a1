"""How a page joins a label to its value, in the page's language (Jinja filters).

Japanese notices write 「状態：有効」 and 「健康保険証（おもて）」 with full-width marks and no
space; English writes "Status: active" and "card (front)". Templates use:

- ``label``: ``{{ _("Status")|label }}<strong>…</strong>`` gives 状態： / Status:␠;
- ``parens``: ``{{ name }}{{ detail|parens }}`` gives （detail） / ␠(detail);
- ``joined``: ``{{ names|joined }}`` gives a、b、c / a, b, c (a list of choices);
- ``sep()``: between the parts of a list line (date, state, address): 「、」 / " · ".

Each reads ``lang`` ("ja" or "en") from the template's context.
"""

from __future__ import annotations

from collections.abc import Iterable

from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape


def _ja(context: Context) -> bool:
    return bool(context.get("lang", "ja") != "en")


@pass_context
def label(context: Context, text: str) -> Markup:
    """``text`` followed by the colon that introduces its value."""
    return escape(text) + ("：" if _ja(context) else ": ")


@pass_context
def parens(context: Context, text: object) -> Markup:
    """``text`` in parentheses after a word: （text） / " (text)"."""
    opening, closing = ("（", "）") if _ja(context) else (" (", ")")
    return escape(opening) + escape(text) + closing


@pass_context
def joined(context: Context, items: Iterable[object]) -> Markup:
    """Items of a list written in a sentence: 「、」 in Japanese, ", " in English."""
    return escape("、" if _ja(context) else ", ").join(escape(item) for item in items)


@pass_context
def sep(context: Context) -> Markup:
    """The mark between the parts of a list line: 「、」 with no space in Japanese (a
    Japanese page prints no middle dot between spaces), " · " in English."""
    return escape("、" if _ja(context) else " · ")


def install_label_filters(env: Environment) -> None:
    """Add the filters ``label``, ``parens``, ``joined`` and the global ``sep`` to ``env``."""
    env.filters["label"] = label
    env.filters["parens"] = parens
    env.filters["joined"] = joined
    env.globals["sep"] = sep
