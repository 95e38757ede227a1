"""Bad input at the edge never reaches a handler as a 500: JSON nested too deeply, an id past
the column's range, a control character in a path, a query or a form; the API key is asked for
before the body is read; and what does fail is the service's own answer (a logged 500 with a
request id, a 503 with Retry-After when the database is short of connections)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from litestar import Litestar, Request, get, post
from litestar.routes import HTTPRoute
from sqlalchemy import text

from cardservice.db.engine import Database
from cardservice.errors import ConfigurationError
from cardservice.services import Services
from cardservice.settings import Settings
from cardservice.staff.models import Role
from cardservice.web.limits import ID_MAX, MAX_JSON_DEPTH, json_too_deep
from cardservice.web.pages import PAGE_OPT
from tests.conftest import _pg_admin
from tests.web_support import (
    Client,
    csrf_from,
    form_token,
    login,
    make_staff,
    web_client,
    with_free_catcher_port,
)

HTML = {"Accept": "text/html"}
WEB_LOG = "cardservice.web"
# Past PostgreSQL's integer, past SQLite's 64-bit integer, and below the first id.
OUT_OF_RANGE = (2**31, 2**63, 0, -1)


@pytest.fixture
async def client(services: Services) -> AsyncIterator[Client]:
    async with web_client(with_free_catcher_port(services.settings), mail=False) as running:
        yield running


@pytest.fixture
async def admin(services: Services, client: Client) -> Client:
    """``client`` logged in as an administrator, who may open every staff page."""
    await make_staff(services, "kanri", Role.ADMIN)
    await login(client, "kanri")
    return client


def app_of(client: Client) -> Litestar:
    app: Litestar = client.app  # type: ignore[assignment]  # the test client's ASGI app
    return app


def http_routes(client: Client) -> list[HTTPRoute]:
    return [route for route in app_of(client).routes if isinstance(route, HTTPRoute)]


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# --- the API key before the body -------------------------------------------------------------


@pytest.mark.parametrize(
    "body", [nested(1000), b"[1]", b"not json", b'{"barcode": "\\u0000"}', b"{" * 100]
)
async def test_without_a_key_the_body_is_never_read(client: Client, body: bytes) -> None:
    response = await client.post(
        "/api/v1/verify", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401, response.text
    assert response.json() == {
        "error": {
            "code": "api_key_invalid",
            "message": "A valid API key is required (header X-API-Key, or Authorization: Bearer).",
        }
    }
    assert response.headers["www-authenticate"] == "Bearer"


async def test_without_a_key_a_form_body_is_never_read(client: Client) -> None:
    response = await client.post("/api/v1/verify", data={"barcode": "A\x00A"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "api_key_invalid"


async def test_json_nested_1000_levels_is_a_400_with_a_key(client: Client, api_key: str) -> None:
    response = await client.post(
        "/api/v1/verify",
        content=nested(1000),
        headers={"Content-Type": "application/json", "X-API-Key": api_key},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "body_too_deep"


async def test_json_within_the_depth_bound_is_read(client: Client, api_key: str) -> None:
    body = {"barcode": "A0000000000A"}
    for _ in range(MAX_JSON_DEPTH - 1):
        body = {"barcode": body}  # type: ignore[dict-item]  # deliberately the wrong shape
    response = await client.post("/api/v1/verify", json=body, headers={"X-API-Key": api_key})
    assert response.status_code == 400  # read, and refused for its shape, not its depth
    assert response.json()["error"]["code"] == "bad_request"


def test_depth_counts_brackets_outside_strings_only() -> None:
    assert not json_too_deep(b'{"a": "' + b"[" * 100 + b'"}')
    assert not json_too_deep(b'["\\"[[[[' + b"[" * 100 + b'"]')
    assert json_too_deep(nested(MAX_JSON_DEPTH + 1))
    assert not json_too_deep(nested(MAX_JSON_DEPTH))
    assert not json_too_deep(b"[" + b"[]," * 1000 + b"[]]")  # wide, not deep


async def test_a_control_character_in_a_json_string_is_a_400(client: Client, api_key: str) -> None:
    response = await client.post(
        "/api/v1/verify", json={"barcode": "A000\x00"}, headers={"X-API-Key": api_key}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "control_character"


# --- integer path parameters -----------------------------------------------------------------


def int_routes(client: Client) -> list[tuple[str, str, list[str]]]:
    """(method, path template, its integer parameters) for every route with one."""
    found = []
    for route in http_routes(client):
        names = [p.name for p in route.path_parameters.values() if p.type is int]
        if names:
            found += [(m, route.path, names) for m in sorted(route.methods) if m != "OPTIONS"]
    return found


def fill(template: str, ints: dict[str, int]) -> str:
    def value(match: re.Match[str]) -> str:
        name, kind = match.group(1), match.group(2)
        return str(ints[name]) if kind == "int" else "edge"

    return re.sub(r"\{(\w+):(\w+)\}", value, template)


async def test_every_integer_path_parameter_is_bounded(admin: Client) -> None:
    routes = int_routes(admin)
    # The route table as it is: a new integer id route is covered without touching this test.
    assert ("GET", "/staff/mail/{mail_id:int}", ["mail_id"]) in routes
    assert len(routes) >= 10
    token = await form_token(admin, "/staff/rejection-templates")
    for method, template, names in routes:
        for number in OUT_OF_RANGE:
            path = fill(template, dict.fromkeys(names, number))
            response = await admin.request(
                method,
                path,
                data={"_csrf_token": token} if method == "POST" else None,
                headers=HTML,
            )
            assert response.status_code == 404, (method, path, response.status_code)
            assert "<code>not_found</code>" in response.text, path


@pytest.mark.parametrize("mail_id", ["9223372036854775808", "2147483648", str(ID_MAX)])
async def test_the_issue_example_mail_ids_are_not_found(admin: Client, mail_id: str) -> None:
    response = await admin.get(f"/staff/mail/{mail_id}")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")


# --- control characters in paths, queries and forms ------------------------------------------


async def test_nul_in_the_login_form_is_a_page_in_the_pages_language(client: Client) -> None:
    token = await form_token(client, "/login")
    body = f"login=a%00@example.org&password=x&_csrf_token={quote(token)}"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    response = await client.post("/login", content=body, headers=form)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="ja">' in response.text
    assert "制御文字" in response.text
    assert "<code>control_character</code>" in response.text

    english = await client.post("/login?lang=en", content=body, headers=form)
    assert english.status_code == 400
    assert '<html lang="en">' in english.text
    assert "control character" in english.text


def page_post_routes(client: Client) -> list[str]:
    return [
        route.path
        for route in http_routes(client)
        if "POST" in route.methods and not route.path.startswith("/api/")
    ]


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x7f", "\x85"])
async def test_a_control_character_in_any_form_field_of_any_form_is_refused(
    admin: Client, char: str
) -> None:
    token = await form_token(admin, "/staff/rejection-templates")
    routes = page_post_routes(admin)
    assert "/login" in routes
    assert "/apply/form" in routes
    for template in routes:
        path = fill(template, dict.fromkeys(re.findall(r"\{(\w+):int\}", template), 1))
        fields = {"_csrf_token": token, "name": f"a{char}b"}
        for response in (
            await admin.post(path, data=fields, headers=HTML),
            await admin.post(path, data=fields, files={"x": ("a.txt", b"x")}, headers=HTML),
        ):
            assert response.status_code == 400, (path, response.status_code)
            assert "<code>control_character</code>" in response.text, path


async def test_a_form_field_that_is_not_utf8_is_refused_by_every_form(admin: Client) -> None:
    token = await form_token(admin, "/staff/rejection-templates")
    body = (
        b'--B\r\nContent-Disposition: form-data; name="_csrf_token"\r\n\r\n'
        + token.encode()
        + b'\r\n--B\r\nContent-Disposition: form-data; name="name"\r\n\r\n\xff\xfe\r\n--B--\r\n'
    )
    multipart = {**HTML, "content-type": "multipart/form-data; boundary=B"}
    for template in page_post_routes(admin):
        path = fill(template, dict.fromkeys(re.findall(r"\{(\w+):int\}", template), 1))
        response = await admin.post(path, content=body, headers=multipart)
        # The upload pages send the applicant back to the page, which says so by the field.
        assert response.status_code in (400, 303), (path, response.status_code)
        if response.status_code == 400:
            assert "<code>form_unreadable</code>" in response.text, path
        else:
            assert response.headers["location"].endswith("?upload=unnamed"), path


async def test_a_control_character_in_a_query_or_a_text_path_parameter_is_refused(
    admin: Client,
) -> None:
    pages = [
        route.path
        for route in http_routes(admin)
        if "GET" in route.methods and not route.path_parameters
    ]
    assert "/staff/patrons" in pages
    for path in pages:
        response = await admin.get(path, params={"q": "a\x00b"}, headers=HTML)
        assert response.status_code == 400, path
    for path in ("/staff/applications/a%00b", "/apply/verify/%00", "/password/reset/%01x"):
        response = await admin.get(path, headers=HTML)
        assert response.status_code == 400, path
        assert "<code>control_character</code>" in response.text


async def test_line_breaks_and_tabs_are_text_not_controls(client: Client) -> None:
    token = await form_token(client, "/login")
    response = await client.post(
        "/login", data={"login": "a\tb\r\nc", "password": "x", "_csrf_token": token}
    )
    assert response.status_code != 400  # an ordinary failed login, answered by the page


# --- 500 and 503 ----------------------------------------------------------------------------


@get("/staff/_edge_failure", opt=PAGE_OPT, include_in_schema=False)
async def failing_page() -> str:
    raise RuntimeError("a failure the handler did not expect")


@get("/api/v1/_edge_failure", include_in_schema=False)
async def failing_api() -> str:
    raise RuntimeError("a failure the handler did not expect")


async def test_a_failure_is_a_logged_500_page_with_a_request_id(
    client: Client,
) -> None:
    app_of(client).register(failing_page)
    with web_log() as log:
        response = await client.get("/staff/_edge_failure")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert "システムで問題が発生しました" in response.text
    rid = response.headers["x-request-id"]
    assert f"<code>{rid}</code>" in response.text
    (record,) = [r for r in log.records if rid in r.getMessage()]
    assert record.levelno == logging.ERROR
    assert "GET /staff/_edge_failure" in record.getMessage()
    assert record.exc_info is not None  # the traceback
    assert "a failure the handler did not expect" in str(record.exc_info[1])


async def test_a_failure_is_a_logged_500_json_on_the_api(
    client: Client,
) -> None:
    app_of(client).register(failing_api)
    with web_log() as log:
        response = await client.get(
            "/api/v1/_edge_failure", headers={"X-Request-ID": "proxy-1234abcd"}
        )
    assert response.status_code == 500
    assert response.json() == {
        "error": {
            "code": "internal_error",
            "message": "Something went wrong on our side.",
            "request_id": "proxy-1234abcd",
        }
    }
    (record,) = log.records
    assert "request proxy-1234abcd failed: GET /api/v1/_edge_failure" in record.getMessage()
    assert record.exc_info is not None


@pytest.fixture
async def tiny_pool(services: Services) -> AsyncIterator[Client]:
    """The app with one connection, no overflow and a short wait for it."""
    settings = with_free_catcher_port(
        services.settings, db_pool_size=1, db_max_overflow=0, db_pool_timeout=0.3
    )
    async with web_client(settings, mail=False) as running:
        yield running


@get("/api/v1/_edge_database", include_in_schema=False)
async def api_reading_the_database(request: Request[Any, Any, Any]) -> dict[str, int]:
    async with request.app.state.services.db.transaction() as session:
        return {"one": (await session.execute(text("SELECT 1"))).scalar_one()}


class Records(logging.Handler):
    """What the web edge logs, however the app configured the root logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def messages(self) -> list[str]:
        return [record.getMessage() for record in self.records]


@contextmanager
def web_log() -> Iterator[Records]:
    logger = logging.getLogger(WEB_LOG)
    records = Records()
    logger.addHandler(records)
    try:
        yield records
    finally:
        logger.removeHandler(records)


def assert_logged_503(log: Records) -> None:
    lines = [line for line in log.messages() if "short of connections" in line]
    assert lines
    assert "answered 503" in lines[-1]


class Holder:
    """Keeps the pool's one connection (both pools' on SQLite) busy, as a slow request would,
    in the app's own event loop, until released."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def hold(self, db: Any, acquired: asyncio.Event) -> None:
        async with contextlib.AsyncExitStack() as held:
            # SQLite reads have an engine of their own; PostgreSQL's share the one pool.
            for engine in {id(e.pool): e for e in (db.engine, db.read_engine)}.values():
                await held.enter_async_context(engine.connect())
            acquired.set()
            await self.release.wait()


HOLDER = Holder()


@post("/api/v1/_edge_hold", include_in_schema=False)
async def hold_the_pool(request: Request[Any, Any, Any]) -> None:
    acquired = asyncio.Event()
    HOLDER.release = asyncio.Event()
    HOLDER.task = asyncio.create_task(HOLDER.hold(request.app.state.services.db, acquired))
    await asyncio.wait(
        [HOLDER.task, asyncio.create_task(acquired.wait())],
        timeout=5,
        return_when=asyncio.FIRST_COMPLETED,
    )
    assert acquired.is_set()


@post("/api/v1/_edge_release", include_in_schema=False)
async def release_the_pool() -> None:
    HOLDER.release.set()
    assert HOLDER.task is not None
    await HOLDER.task


async def test_a_busy_pool_is_a_503_page_and_json_with_retry_after(
    services: Services, tiny_pool: Client
) -> None:
    await make_staff(services)
    for handler in (api_reading_the_database, hold_the_pool, release_the_pool):
        app_of(tiny_pool).register(handler)
    token = csrf_from((await tiny_pool.get("/staff/login")).text)
    assert (await tiny_pool.get("/api/v1/_edge_database")).json() == {"one": 1}

    with web_log() as log:
        assert (await tiny_pool.post("/api/v1/_edge_hold")).status_code == 201
        login_page = await tiny_pool.post(
            "/staff/login", data={"username": "sato", "password": "x", "_csrf_token": token}
        )
        api = await tiny_pool.get("/api/v1/_edge_database")
        assert (await tiny_pool.post("/api/v1/_edge_release")).status_code == 201
    assert login_page.status_code == 503
    assert login_page.headers["retry-after"].isdigit()
    assert "ただいま混み合っています" in login_page.text
    assert "<code>temporarily_unavailable</code>" in login_page.text
    assert api.status_code == 503
    assert api.headers["retry-after"].isdigit()
    assert api.json()["error"]["code"] == "temporarily_unavailable"
    assert api.json()["error"]["request_id"] == api.headers["x-request-id"]
    assert_logged_503(log)
    # Given back, the connection serves again.
    assert (await tiny_pool.get("/api/v1/_edge_database")).status_code == 200


async def test_postgresql_refusing_connections_is_a_503(pg_url: str, data_dir: Path) -> None:
    """PostgreSQL only: a role it gives no connection (its CONNECTION LIMIT is reached at 0):
    the server's own "too many connections" (SQLSTATE 53300)."""
    role = f"edge_{uuid.uuid4().hex[:8]}"
    await _pg_admin(f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 0')
    try:
        url = pg_url.replace("://postgres@", f"://{role}@", 1)
        assert role in url
        settings = Settings.from_env(
            {}, data_dir=data_dir, database_url=url, base_url="https://cards.example.org"
        )
        settings = with_free_catcher_port(settings)
        async with web_client(settings, mail=False) as refused:
            token = csrf_from((await refused.get("/staff/login")).text)
            with web_log() as log:
                response = await refused.post(
                    "/staff/login",
                    data={"username": "sato", "password": "x", "_csrf_token": token},
                )
        assert response.status_code == 503
        assert response.headers["retry-after"].isdigit()
        assert_logged_503(log)
    finally:
        await _pg_admin(f'DROP ROLE IF EXISTS "{role}"')


def test_pool_settings_come_from_the_environment(tmp_path: Path) -> None:
    env = {"CARDSERVICE_DATA_DIR": str(tmp_path)}
    defaults = Settings.from_env(env)
    assert (defaults.db_pool_size, defaults.db_max_overflow, defaults.db_pool_timeout) == (
        10,
        20,
        10.0,
    )
    pool = {
        "CARDSERVICE_DB_POOL_SIZE": "2",
        "CARDSERVICE_DB_MAX_OVERFLOW": "0",
        "CARDSERVICE_DB_POOL_TIMEOUT": "0.5",
    }
    small = Settings.from_env({**env, **pool})
    assert (small.db_pool_size, small.db_max_overflow, small.db_pool_timeout) == (2, 0, 0.5)
    database = Database(small.async_database_url, pool_size=2, max_overflow=0, pool_timeout=0.5)
    assert database.engine.pool.size() == 2  # type: ignore[attr-defined]  # a QueuePool
    for name, bad in [("DB_POOL_SIZE", "0"), ("DB_MAX_OVERFLOW", "-1"), ("DB_POOL_TIMEOUT", "x")]:
        with pytest.raises(ConfigurationError):
            Settings.from_env({**env, f"CARDSERVICE_{name}": bad})
