"""The applicant's pages: email link (or a logged-in start), notes and consent, form,
documents, submission; for a new registration and for the procedures on a card.

    GET  /apply                          email form                 POST /apply (email)
    GET  /apply/sent                     "check your email" (the same for anyone)
    GET  /apply/verify/{token}           "Continue" (peeks only)    POST: opens the draft
    POST /apply/procedure/{procedure}    a logged-in patron starts reissue, renewal, change
    GET  /apply/notes                    notes and consent          POST (version, agree)
    GET  /apply/form?procedure=          the form of a procedure    POST (fields, or lookup)
    GET  /apply/postal?code=             {prefecture, city} as JSON, for apply.js
    GET  /apply/documents                rules, attached files      POST multipart
    POST /apply/documents/{id}/delete
    GET  /apply/documents/{id}/image     a preview, to the draft's own session only
    GET  /apply/review                   everything, what is missing
    POST /apply/submit                   once, however often sent
    GET  /apply/done                     received, ready date
    GET  /apply/answer/{token}           a staff question           POST multipart answer
    GET  /apply/answered                 thanks

The email link, or the logged-in start, puts the draft's public id in the session
(``session["apply"]``); the step pages find the draft through it. Without it they send the
applicant back to the start, and once the application is submitted its editing pages show
the "received" page instead.
Each POST redirects (303) after it succeeds; a refused input shows the page again with the
reason next to its field (400), and nothing of the application changes.
"""

from __future__ import annotations

from typing import Any

from litestar import Router

from cardservice.registration.routes.answer import answer_page, answered, send_answer
from cardservice.registration.routes.attached import attached_image
from cardservice.registration.routes.common import NoApplication, NotDraft, to_done, to_start
from cardservice.registration.routes.details import application_form, postal, save_form
from cardservice.registration.routes.documents import (
    add_document,
    documents_page,
    done,
    remove_document,
    review,
    submit,
)
from cardservice.registration.routes.procedure import start_procedure
from cardservice.registration.routes.start import (
    consent,
    notes,
    open_application,
    send_link,
    sent,
    start,
    verify,
)

ROUTES: list[Any] = [
    Router(
        path="/",
        route_handlers=[
            start,
            send_link,
            sent,
            verify,
            open_application,
            start_procedure,
            notes,
            consent,
            application_form,
            save_form,
            postal,
            documents_page,
            add_document,
            remove_document,
            attached_image,
            review,
            submit,
            done,
            answer_page,
            send_answer,
            answered,
        ],
        exception_handlers={NoApplication: to_start, NotDraft: to_done},
    )
]
