"""The staff card desk pages.

    GET  /staff/patrons?q=                              search (``search``)
    GET  /staff/patrons/{patron_id}                     a patron's record (``record``)
    GET  /staff/patrons/{patron_id}/cards/{card_id}/{action}   confirm (``actions``)
    POST                                                      do it

Every staff member may search and read (counter staff included); reviewers and
administrators may act. Each action has a page of its own that asks for a reason and a
ticked confirmation before anything changes (no JavaScript needed); the change itself is one
transaction in ``patrons.desk.actions``. A refused action (already revoked, not suspended,
...) is a 409 page that says why and changes nothing; a form error comes back on the action
page (400) with the field marked and what was typed kept.
"""

from __future__ import annotations

from typing import Any

from cardservice.patrons.desk.routes.actions import act, action_form
from cardservice.patrons.desk.routes.record import patron_page
from cardservice.patrons.desk.routes.search import desk_page

ROUTES: list[Any] = [desk_page, patron_page, action_form, act]
