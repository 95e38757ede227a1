"""Staff review pages: the queue, one application, its ID images, the decisions on it and
the pick of its patron; the rejection templates and the audit log (``admin``).

    GET  /staff/queue                                       the queue (``application``)
    GET  /staff/applications/{public_id}                    one application
    GET  /staff/applications/{public_id}/documents/{id}     an ID image (``documents``)
    POST /staff/applications/{public_id}/approve            (``decisions``)
    POST /staff/applications/{public_id}/reject
    POST /staff/applications/{public_id}/inquiry
    POST /staff/applications/{public_id}/patron             the patron's pick (``patron``)

Each decision (approve, reject, ask) and the pick of the patron an application is for is one
transaction around the domain function, then a 303 with a notice: after a decision to the
next application in the queue (or the queue when none is left, ``after``), after the pick
back to the application. Approving asks for a ticked confirmation (and, with JavaScript, a
dialog: static/review.js). A decision the application's state no longer
allows is a 409 page; a missing confirmation, a reason, question or patron that is not valid
comes back on the application page (400, or 409 for a patron still to pick) with the
message next to its field, in the page's language, the text kept. ``view`` says how an
application reads; ``texts`` holds the pages' own words.
"""

from __future__ import annotations

from typing import Any

from cardservice.registration.review_routes.admin import ROUTES as ADMIN_ROUTES
from cardservice.registration.review_routes.application import application_page, queue_page
from cardservice.registration.review_routes.decisions import approve, inquiry, reject
from cardservice.registration.review_routes.documents import document_image
from cardservice.registration.review_routes.patron import link_patron

ROUTES: list[Any] = [
    queue_page,
    application_page,
    document_image,
    approve,
    link_patron,
    reject,
    inquiry,
    *ADMIN_ROUTES,
]
