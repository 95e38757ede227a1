"""A whole run's log holds no secret and no personal data.

The service runs as an operator starts it (``cardservice serve`` in a subprocess, its
standard output and error captured) while an applicant registers through the email link,
a reviewer logs in (once with a wrong password) and approves, the new patron logs in
(once wrongly), asks for a password reset and opens the reset link, and a scanner fetches a
barcode image. The mail goes through the relay to the built-in catcher. Then the log is
searched for every link token the emails carried, every password typed, the applicant's
names, email address, phone and user number.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx

from tests.cli_support import cardservice, free_port, serving
from tests.registration_flow import FORMS, photo

PROFILE = "kashiwa"
EMAIL = "hanako.yamada@example.org"
STAFF_PASSWORD = "lantern-harbour-quietly-42"
WRONG_STAFF_PASSWORD = "Guessing-Staff-Pass-99"
WRONG_PATRON_PASSWORD = "Guessing-Patron-Pass-77"
_LINK_TOKEN = re.compile(r"/(?:apply/verify|apply/answer|password/reset|my/email/verify)/([\w-]+)")
_CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')
T = TypeVar("T")


def _csrf(client: httpx.Client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, (path, page.text)
    found = _CSRF.search(page.text)
    assert found is not None, page.text
    return found.group(1)


def _query(database: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        return list(connection.execute(sql, args))


def _wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60) -> T:
    deadline = time.monotonic() + timeout
    while (found := probe()) is None:
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.2)
    return found


def _mail_body(database: Path, template: str) -> str | None:
    rows = _query(
        database, "SELECT body_text FROM outbox WHERE template = ? ORDER BY id DESC", template
    )
    return str(rows[0][0]) if rows else None


def _token(database: Path, template: str) -> str:
    body = _wait_for(f"{template} email", lambda: _mail_body(database, template))
    found = _LINK_TOKEN.search(body)
    assert found is not None, body
    return found.group(1)


def _apply(client: httpx.Client, database: Path) -> None:
    asked = client.post("/apply", data={"email": EMAIL, "_csrf_token": _csrf(client, "/apply")})
    assert asked.status_code == 303, asked.text
    token = _token(database, "verify_email")
    opened = client.post(
        f"/apply/verify/{token}", data={"_csrf_token": _csrf(client, f"/apply/verify/{token}")}
    )
    assert opened.headers["location"] == "/apply/notes", opened.text
    notes = client.get("/apply/notes").text
    version = re.search(r'name="version" value="([^"]+)"', notes)
    assert version is not None
    agreed = client.post(
        "/apply/notes",
        data={"version": version.group(1), "agree": "on", "_csrf_token": _CSRF.findall(notes)[0]},
    )
    assert agreed.status_code == 303, agreed.text
    form = {**FORMS[PROFILE], "_csrf_token": _csrf(client, "/apply/form")}
    assert client.post("/apply/form", data=form).status_code == 303
    for side in ("front", "back"):
        added = client.post(
            "/apply/documents",
            data={
                "doc_type": "health_insurance",
                "side": side,
                "_csrf_token": _csrf(client, "/apply/documents"),
            },
            files={"file": ("photo.jpg", photo(), "image/jpeg")},
        )
        assert added.status_code == 303, added.text
    submitted = client.post("/apply/submit", data={"_csrf_token": _csrf(client, "/apply/review")})
    assert submitted.headers["location"] == "/apply/done", submitted.text


def _approve(client: httpx.Client, database: Path) -> None:
    for password, right in ((WRONG_STAFF_PASSWORD, False), (STAFF_PASSWORD, True)):
        answer = client.post(
            "/staff/login",
            data={
                "username": "sato",
                "password": password,
                "_csrf_token": _csrf(client, "/staff/login"),
            },
        )
        assert (answer.status_code == 303) is right, answer.text
    ((public_id,),) = _query(database, "SELECT public_id FROM applications")
    page = f"/staff/applications/{public_id}"
    done = client.post(
        f"{page}/approve", data={"confirm": "yes", "_csrf_token": _csrf(client, page)}
    )
    assert done.status_code == 303, done.text


def _patron(client: httpx.Client, database: Path, number: str) -> None:
    for password, right in ((WRONG_PATRON_PASSWORD, False), (FORMS[PROFILE]["password"], True)):
        answer = client.post(
            "/login",
            data={"login": number, "password": password, "_csrf_token": _csrf(client, "/login")},
        )
        assert (answer.status_code == 303) is right, answer.text
    client.cookies.clear()
    forgot = client.post(
        "/password/forgot",
        data={"login": EMAIL, "_csrf_token": _csrf(client, "/password/forgot")},
    )
    assert forgot.status_code == 303, forgot.text
    token = _token(database, "password_reset")
    assert client.get(f"/password/reset/{token}").status_code == 200
    client.get("/api/v1/barcodes/codabar/svg", params={"data": f"A{number}A"})


def _all_sent(database: Path) -> bool | None:
    rows = _query(database, "SELECT count(*) FROM outbox WHERE status != 'sent'")
    return True if rows[0][0] == 0 else None


def test_a_whole_run_logs_no_token_password_name_or_address(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    env = {
        "CARDSERVICE_DATA_DIR": str(data_dir),
        "CARDSERVICE_PROFILE": PROFILE,
        "CARDSERVICE_BASE_URL": f"http://127.0.0.1:{port}",
        "CARDSERVICE_MAIL_CATCHER_PORT": str(free_port()),
        "CARDSERVICE_LOG_LEVEL": "INFO",
    }
    cardservice(env, "migrate")
    cardservice(
        env, "staff", "create", "sato", "--role", "admin", "--password-stdin", stdin=STAFF_PASSWORD
    )
    database = data_dir / "cardservice.db"
    with serving(env, "serve", port=port) as server:
        with httpx.Client(base_url=server.url, timeout=30) as applicant:
            _apply(applicant, database)
        with httpx.Client(base_url=server.url, timeout=30) as reviewer:
            _approve(reviewer, database)
        ((number,),) = _query(database, "SELECT user_number FROM cards")
        with httpx.Client(base_url=server.url, timeout=30) as patron:
            _patron(patron, database, str(number))
        _wait_for("delivery of every email", lambda: _all_sent(database))
        caught = _query(database, "SELECT count(*) FROM caught_mail")[0][0]
        bodies = [str(row[0]) for row in _query(database, "SELECT body_text FROM outbox")]
    log = server.log.read_text()

    tokens = {token for body in bodies for token in _LINK_TOKEN.findall(body)}
    assert len(tokens) == 2, bodies  # the verification link and the reset link
    assert caught == len(bodies) >= 4  # link, received, completed, reset
    form = FORMS[PROFILE]
    secrets = {
        **{f"token {t}": t for t in tokens},
        "applicant password": form["password"],
        "staff password": STAFF_PASSWORD,
        "wrong staff password": WRONG_STAFF_PASSWORD,
        "wrong patron password": WRONG_PATRON_PASSWORD,
        "family name": form["family_name"],
        "given name": form["given_name"],
        "family kana": "ヤマダ",
        "given kana": form["given_kana"],
        "kana as typed": form["family_kana"],
        "email address": EMAIL,
        "email local part": EMAIL.split("@", maxsplit=1)[0],
        "phone": form["phone"],
        "phone digits": re.sub(r"\D", "", form["phone"])[1:],
        "street": form["street"],
        "user number": str(number),
    }
    leaked = {what: value for what, value in secrets.items() if value in log}
    assert leaked == {}, log
    # The log did record the run: the access lines are there, with the tokens redacted.
    assert '"GET /apply/verify/[redacted] HTTP/1.1" 200' in log, log
    assert '"GET /password/reset/[redacted] HTTP/1.1" 200' in log, log
    assert "/api/v1/barcodes/codabar/svg?data=[redacted]" in log, log
