"""The audit log's actions in words: one mapping from the action codes the domain records
(``application.approve``) to the words staff read (「承認」 / "Approval"), used by the audit
log and by an application's history; and who did an entry without a staff member (the
applicant, or the system)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from litestar import Request

from cardservice.calendar import start_of_day
from cardservice.registration.history import parse_day
from cardservice.registration.history_routes import FIELD_ERRORS as DATE_ERRORS
from cardservice.staff.audit import CLI_ACTOR_PREFIX, AuditFilter
from cardservice.staff.models import AuditEntry, StaffUser
from cardservice.web.i18n import N_
from cardservice.web.pages import translate

# Every action any part of the service records (grep ``action=`` and ``_audit(``), in the
# order the filter lists them: an application's life, then the other records.
ACTION_LABELS: Final = {
    "application.submit": N_("Submission"),
    "application.document_view": N_("ID image viewed"),
    "application.link_patron": N_("Patron identified"),
    "application.inquiry": N_("Inquiry"),
    "application.answer": N_("Answer to an inquiry"),
    "application.inquiry_lapsed": N_("Inquiry not answered by its date"),
    "application.approve": N_("Approval"),
    "application.reject": N_("Rejection"),
    "application.cancel": N_("Cancellation (no answer)"),
    "application.documents_purge": N_("ID images deleted (retention period over)"),
    "application.draft_purge": N_("Unsubmitted draft deleted (retention period over)"),
    "application.personal_data_erase": N_("Personal details erased (retention period over)"),
    "card.issue": N_("Card issued"),
    "card.suspend": N_("Card suspended"),
    "card.reinstate": N_("Card reinstated"),
    "card.revoke": N_("Card revoked"),
    "card.reissue": N_("Card reissued with a new number"),
    "patron.import": N_("Patron imported"),
    "notice.send": N_("Notice sent"),
    "mail.retry": N_("Email sent again"),
    "webhook.create": N_("Webhook endpoint added"),
    "webhook.test": N_("Webhook test message sent"),
    "webhook.enable": N_("Webhook endpoint enabled"),
    "webhook.disable": N_("Webhook endpoint disabled"),
    "webhook.retry": N_("Webhook message sent again"),
    "webhook.new_key": N_("Webhook signing secret replaced"),
    "export.patrons_csv": N_("Patrons and cards exported (CSV)"),
    "rejection_template.create": N_("Rejection template added"),
    "rejection_template.update": N_("Rejection template edited"),
    "rejection_template.deactivate": N_("Rejection template deactivated"),
    "rejection_template.activate": N_("Rejection template activated"),
    "staff.create": N_("Staff account created"),
    "staff.login": N_("Staff login"),
    "staff.lock": N_("Staff account locked (failed logins)"),
    "staff.unlock": N_("Staff account unlocked"),
    "staff.disable": N_("Staff account disabled"),
    "staff.password_change": N_("Staff password changed"),
    "api_key.create": N_("API key created"),
    "api_key.revoke": N_("API key revoked"),
}
# What an entry was done to, by its target type.
TARGET_LABELS: Final = {
    "application": N_("Application"),
    "card": N_("Card"),
    "import": N_("Patron import"),
    "notice": N_("Notice"),
    "outbox": N_("Email"),
    "rejection_template": N_("Rejection template"),
    "staff_user": N_("Staff account"),
    "api_key": N_("API key"),
}
# What the applicant did (no staff member, and not the system either).
APPLICANT_ACTIONS: Final = frozenset({"application.submit", "application.answer"})
APPLICANT: Final = N_("Applicant")
SYSTEM_ACTOR: Final = N_("System")
COMMAND_LINE_ACTOR: Final = N_("Command line (%(user)s)")
STAFF_NOT_KNOWN: Final = N_("Unknown staff member")
# The staff filter's value for entries no staff member made.
WITHOUT_STAFF: Final = "none"
WITHOUT_STAFF_LABEL: Final = N_("The applicant or the system")
FILTER_FIELDS: Final = ("action", "staff", "from", "to")
# With the date and staff errors of the application search (``DATE_ERRORS``).
FILTER_ERRORS: Final = {"action_invalid": N_("Choose an action from the list.")}

AnyRequest = Request[Any, Any, Any]


def action_label(request: AnyRequest, action: str) -> str:
    """「承認」 for ``application.approve``; an action without words reads as its code."""
    found = ACTION_LABELS.get(action)
    return translate(request, found) if found else action


def target_label(request: AnyRequest, target_type: str) -> str:
    """「申請」 for ``application``; a type without words reads as itself."""
    found = TARGET_LABELS.get(target_type)
    return translate(request, found) if found else target_type


def action_options(request: AnyRequest) -> list[tuple[str, str]]:
    """(code, words) of every action, for a filter's list."""
    return [(code, translate(request, label)) for code, label in ACTION_LABELS.items()]


def actor_label(request: AnyRequest, entry: AuditEntry, staff_names: dict[int, str]) -> str:
    """Who did ``entry``: the staff member's name, 「申請者」 for the applicant's own steps,
    「コマンド操作（user）」 for a command run by an operator, else 「システム」."""
    if entry.staff_id is not None:
        return staff_names.get(entry.staff_id) or translate(request, STAFF_NOT_KNOWN)
    if entry.action in APPLICANT_ACTIONS:
        return translate(request, APPLICANT)
    operator = (entry.detail or {}).get("actor")
    if isinstance(operator, str) and operator.startswith(CLI_ACTOR_PREFIX):
        # Written by a `cardservice` command (cli.common names who ran it).
        user = operator.removeprefix(CLI_ACTOR_PREFIX)
        return translate(request, COMMAND_LINE_ACTOR) % {"user": user}
    return translate(request, SYSTEM_ACTOR)


@dataclass(slots=True)
class EntryFilter:
    """The filter form of the audit log and of an application's history, read from the
    query string: what was typed (``values``), the errors by field in the page's language,
    and the filter itself (everything when a field is wrong, so the page still shows)."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    chosen: AuditFilter = field(default_factory=AuditFilter)

    @property
    def query(self) -> dict[str, str]:
        """The filled fields, to keep in the pages' links."""
        return {name: value for name, value in self.values.items() if value}


def entry_filter(
    request: AnyRequest, params: Mapping[str, str], staff: list[StaffUser], timezone: ZoneInfo
) -> EntryFilter:
    """The filter ``params`` ask for: ``action`` (a code from :data:`ACTION_LABELS`),
    ``staff`` (a staff id, or ``none`` for the applicant and the system), ``from`` and
    ``to`` (library dates YYYY-MM-DD, both included). Wrong fields get their message."""
    values = {name: params.get(name, "").strip()[:64] for name in FILTER_FIELDS}
    codes: dict[str, str] = {}
    action = values["action"] or None
    if action is not None and action not in ACTION_LABELS:
        codes["action"], action = "action_invalid", None
    staff_id, without_staff = None, values["staff"] == WITHOUT_STAFF
    if values["staff"] and not without_staff:
        staff_id = next((u.id for u in staff if str(u.id) == values["staff"]), None)
        if staff_id is None:
            codes["staff"] = "staff_invalid"
    since = parse_day(values["from"], "from", codes)
    until = parse_day(values["to"], "to", codes)
    if since and until and since > until:
        codes["to"] = "date_range_invalid"
    messages = {**DATE_ERRORS, **FILTER_ERRORS}
    errors = {name: translate(request, messages[code]) for name, code in codes.items()}
    if errors:
        return EntryFilter(values=values, errors=errors)
    chosen = AuditFilter(
        action=action,
        staff_id=staff_id,
        without_staff=without_staff,
        since=start_of_day(since, timezone) if since else None,
        until=start_of_day(until + timedelta(days=1), timezone) if until else None,
    )
    return EntryFilter(values=values, chosen=chosen)


def staff_options(request: AnyRequest, staff: list[StaffUser]) -> list[tuple[str, str]]:
    """(value, name) of every staff member, then the applicant and the system."""
    options = [(str(user.id), user.display_name) for user in staff]
    return [*options, (WITHOUT_STAFF, translate(request, WITHOUT_STAFF_LABEL))]
