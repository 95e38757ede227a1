"""Every action the service records in the audit log has words for the staff pages (the one
mapping the history and the audit log share), in both catalogs."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import cardservice
from cardservice.registration.review_routes.actions import ACTION_LABELS
from cardservice.web.i18n import gettext

_CODE = re.compile(
    r"^(application|card|patron|notice|mail|rejection_template|staff|api_key|webhook|export)\.[a-z_]+$"
)


def _logger_names(tree: ast.AST) -> set[int]:
    """The ids of string constants naming a logger (``logging.getLogger("mail.log")``)."""
    names: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "getLogger":
            names.update(id(arg) for arg in node.args)
    return names


def recorded_actions() -> set[str]:
    """The action codes written in the package's source."""
    found: set[str] = set()
    for path in Path(cardservice.__file__).parent.rglob("*.py"):
        if path.match("events/messages.py"):
            continue  # webhook event types ("card.renewed") look like actions but are not
        tree = ast.parse(path.read_text(encoding="utf-8"))
        loggers = _logger_names(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and _CODE.match(node.value)
                and id(node) not in loggers
            ):
                found.add(node.value)
    return found


def test_every_recorded_action_has_words() -> None:
    recorded = recorded_actions()
    assert {"application.approve", "application.submit", "card.suspend"} <= recorded
    assert sorted(recorded - set(ACTION_LABELS)) == []


def test_the_words_are_translated() -> None:
    assert gettext("ja", ACTION_LABELS["application.approve"]) == "承認"
    assert gettext("ja", ACTION_LABELS["application.reject"]) == "却下"
    assert gettext("ja", ACTION_LABELS["application.inquiry"]) == "問い合わせ"
    for label in ACTION_LABELS.values():
        assert gettext("ja", label) != label
