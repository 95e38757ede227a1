"""Property-based fuzzing of every HTML form and page query, on both engines: no input gives a
server error.

Three people use the service as a browser would, each with a session and a CSRF cookie: an
applicant with a draft, a patron logged in to My Library, an administrator. Their pages'
``<form method="post">`` are read from the HTML (action, fields, defaults), and every POST
route of the app's route table that none of those forms reaches is posted to as well, with
made-up fields. Hypothesis then fills the fields: what the page put there, or text with
control and format characters, huge strings, other scripts, numbers past any column,
fields left out or sent twice, uploads with odd names. Every GET page is asked for with such
values in the query parameters the pages read. Every answer must be below 500.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar import Litestar
from litestar.routes import HTTPRoute

from cardservice.services import Services
from cardservice.staff.models import Role
from tests.registration_flow import submitted_application
from tests.unit.patrons.support import log_in, make_patron
from tests.web_apply_support import agree, open_draft
from tests.web_support import Client, login, make_staff, web_client, with_free_catcher_port

ROUNDS = 3  # each form is filled this many times; about 40 forms, so ~120 posts per engine
CSRF = "_csrf_token"

ODD_VALUES = (
    "",
    "0",
    "-1",
    "2147483648",
    "9223372036854775808",
    "1e309",
    "NaN",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "'; DROP TABLE patrons; --",
    "𠮷野家",
    "神",  # a compatibility ideograph
    "\u202etxt.exe",
    "hanako@例え.jp",
    "ﾔﾏﾀﾞ ﾀﾛｳ",
    "２０２６－１１－３０",
    "a" * 255,
)
CLEAN_TEXT = st.text(alphabet=st.characters(exclude_categories=("Cc", "Cs")), max_size=80)
VALUES = st.one_of(
    st.sampled_from(ODD_VALUES),
    CLEAN_TEXT,
    st.text(max_size=40),  # control characters included
    st.integers().map(str),
    st.builds(
        lambda char, n: char * n, st.sampled_from(["a", "あ", "9", "\x00"]), st.integers(1, 100_000)
    ),
)
FILENAMES = st.one_of(st.sampled_from(["", "photo.jpg", "a.pdf", "..\\x.png"]), CLEAN_TEXT)
FILE_BODIES = st.one_of(
    st.binary(max_size=2000),
    st.sampled_from([b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"%PDF-1.4\n", b""]),
)


@dataclass
class Form:
    action: str
    multipart: bool
    fields: dict[str, list[str]] = field(default_factory=dict)  # name: values the page offers
    files: list[str] = field(default_factory=list)


class FormReader(HTMLParser):
    """The POST forms of a page: their action, fields and the values the page offers."""

    def __init__(self, page_path: str) -> None:
        super().__init__()
        self.page_path = page_path
        self.forms: list[Form] = []
        self.current: Form | None = None
        self.select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {name: value or "" for name, value in attrs}
        if tag == "form" and a.get("method", "get").lower() == "post":
            action = a.get("action") or self.page_path
            multipart = a.get("enctype", "") == "multipart/form-data"
            self.current = Form(action.split("#")[0], multipart)
            return
        form, name = self.current, a.get("name")
        if form is None or not name:
            return
        if tag == "input" and a.get("type") == "file":
            form.files.append(name)
        elif tag in ("input", "textarea", "button"):
            form.fields.setdefault(name, []).append(a.get("value", "on"))
        elif tag == "select":
            self.select = name
            form.fields.setdefault(name, [])
        elif tag == "option" and self.select:
            form.fields[self.select].append(a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self.current is not None:
            self.forms.append(self.current)
            self.current = None
        elif tag == "select":
            self.select = None


def forms_of(html: str, page_path: str) -> list[Form]:
    reader = FormReader(page_path)
    reader.feed(html)
    return reader.forms


def route_template(app: Litestar, path: str) -> str | None:
    """The POST route template ``path`` reaches, if any."""
    for route in app.routes:
        if isinstance(route, HTTPRoute) and "POST" in route.methods:
            pattern = re.sub(r"\{\w+:\w+\}", "[^/]+", route.path)
            if re.fullmatch(pattern, path):
                return route.path
    return None


@dataclass
class Person:
    client: Client
    forms: list[Form]


async def crawl(client: Client, pages: list[str]) -> list[Form]:
    found: list[Form] = []
    for path in pages:
        page = await client.get(path)
        assert page.status_code == 200, (path, page.status_code)
        found += forms_of(page.text, path)
    return found


@pytest.fixture
def profile_name() -> str:
    return "yokohama"  # a library with the sample application form of the tests


@pytest.fixture
async def people(services: Services) -> AsyncIterator[list[Person]]:
    """An applicant with a draft, a patron in My Library and an administrator, each with the
    forms of the pages they see."""
    await make_staff(services, "kanri", Role.ADMIN)
    public_id = await submitted_application(services)  # before a patron of the same name
    card = await make_patron(services, email="taro@example.org")
    settings = with_free_catcher_port(services.settings)
    async with (
        web_client(settings, mail=False) as applicant,
        web_client(settings, mail=False) as patron,
        web_client(settings, mail=False) as admin,
    ):
        await open_draft(applicant, services, "jiro@example.org")
        assert (await agree(applicant, services)).status_code == 303
        await log_in(patron, card.user_number)
        await login(admin, "kanri")
        anonymous = ["/apply", "/login", "/forgot-number", "/password/forgot", "/staff/login"]
        yield [
            Person(
                applicant, await crawl(applicant, [*anonymous, "/apply/form", "/apply/documents"])
            ),
            Person(patron, await crawl(patron, ["/my", "/my/password", "/my/email"])),
            Person(
                admin,
                await crawl(
                    admin,
                    [
                        f"/staff/applications/{public_id}",
                        "/staff/rejection-templates",
                        "/staff/notices/new",
                        f"/staff/patrons/{card.patron_id}",
                        "/staff/outbox/failed",
                    ],
                ),
            ),
        ]


def last_of_all(form: Form) -> bool:
    return form.action.endswith("/logout")  # ends the session the other forms need


def uncovered_routes(app: Litestar, covered: set[str]) -> list[Form]:
    """A made-up form for every page POST route no page's form reaches."""
    forms = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or "POST" not in route.methods:
            continue
        if route.path in covered or route.path.startswith("/api/"):
            continue
        action = re.sub(r"\{\w+:int\}", "1", route.path)
        action = re.sub(r"\{\w+:str\}", "x", action)
        forms.append(Form(action, False, {"name": ["x"], "value": ["1"]}))
    return forms


@st.composite
def filled(draw: st.DrawFn, form: Form, token: str) -> tuple[list[tuple[str, str]], list[Any]]:
    data: list[tuple[str, str]] = [(CSRF, token)]
    for name, offered in form.fields.items():
        if name == CSRF:
            continue
        how = draw(st.sampled_from(["offered", "fuzz", "fuzz", "leave out", "twice"]))
        if how == "leave out":
            continue
        value = draw(st.sampled_from(offered)) if how == "offered" and offered else draw(VALUES)
        data.append((name, value))
        if how == "twice":
            data.append((name, draw(VALUES)))
    files = [
        (name, (draw(FILENAMES), draw(FILE_BODIES), draw(st.sampled_from(["image/jpeg", "x/y"]))))
        for name in form.files
        if draw(st.booleans())
    ]
    return data, files


@settings(
    max_examples=1,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(data=st.data())
async def test_no_form_gives_a_server_error(people: list[Person], data: st.DataObject) -> None:
    applicant = people[0].client
    app: Litestar = applicant.app  # type: ignore[assignment]  # the test client's ASGI app
    covered = {route_template(app, form.action) for person in people for form in person.forms}
    # The forms the three see reach most POST routes; the rest get made-up fields below.
    assert {"/login", "/apply/form", "/apply/documents", "/my/password"} <= covered
    assert {"/staff/applications/{public_id:str}/reject", "/staff/rejection-templates"} <= covered
    plan = [(person.client, form) for person in people for form in person.forms]
    patron, admin = people[1].client, people[2].client
    for form in uncovered_routes(app, {c for c in covered if c}):
        # Posted by whoever could reach it: staff pages by the administrator, and so on.
        if form.action.startswith("/staff/"):
            plan.append((admin, form))
        elif form.action.startswith("/my/"):
            plan.append((patron, form))
        else:
            plan.append((applicant, form))
    plan.sort(key=lambda item: last_of_all(item[1]))
    answered: Counter[int] = Counter()
    for client, form in plan:
        token = client.cookies.get("csrftoken")  # what the page's hidden field carries
        assert token, form.action
        for _ in range(ROUNDS):
            fields, files = data.draw(filled(form, token), label=form.action)
            body: dict[str, list[str]] = {}
            for name, value in fields:
                body.setdefault(name, []).append(value)
            response = await client.post(form.action, data=body, files=files or None)
            assert response.status_code < 500, (form.action, fields[:6], response.text[-400:])
            answered[response.status_code // 100 * 100] += 1
    # Both the edge's refusals and the handlers' own answers were reached.
    assert answered[400] > 0
    assert answered[200] + answered[300] > 0


# What the pages read from their query strings, and what their search forms send.
QUERY_NAMES = (
    *("q", "page", "before", "card", "code", "decided", "done", "next", "procedure"),
    *("retried", "saved", "session", "upload", "status", "dates", "from", "to", "staff"),
    *("action", "lang"),
)


@settings(max_examples=1, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
async def test_no_query_gives_a_server_error(people: list[Person], data: st.DataObject) -> None:
    """Every GET page without path parameters, as each of the three, with fuzzed queries."""
    app: Litestar = people[0].client.app  # type: ignore[assignment]  # the test client's app
    pages = [
        route.path
        for route in app.routes
        if isinstance(route, HTTPRoute)
        and "GET" in route.methods
        and not route.path_parameters
        and not route.path.startswith(("/api/docs", "/static"))
    ]
    assert {"/staff/audit", "/staff/applications/search", "/staff/patrons", "/my"} <= set(pages)
    for person in people:
        for path in pages:
            names = data.draw(st.lists(st.sampled_from(QUERY_NAMES), max_size=4), label=path)
            query = [(name, data.draw(VALUES.filter(lambda v: len(v) < 3000))) for name in names]
            response = await person.client.get(path, params=query)
            assert response.status_code < 500, (path, query, response.text[-400:])
