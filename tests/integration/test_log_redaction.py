"""Link tokens are redacted from every log line: the token routes are read from the app
itself, so each of them (and any added later) is covered; query secrets too."""

from __future__ import annotations

import logging
import re
import sys

import pytest

from cardservice import logs
from cardservice.app import create_app
from cardservice.profiles import load_profile
from cardservice.settings import Settings

TOKEN = "q9Xr-Ab_3kLmNoPqRsTuVw"


@pytest.fixture(scope="module")
def token_routes(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    data_dir = tmp_path_factory.mktemp("logs") / "data"
    settings = Settings.from_env(
        {},
        data_dir=data_dir,
        database_url=f"sqlite+aiosqlite:///{data_dir / 'c.db'}",
        profile=load_profile("example"),
    )
    app = create_app(settings, mail=False)
    return sorted({r.path for r in app.routes if re.search(r"\{\w*token(:\w+)?\}", r.path)})


def test_every_email_link_route_is_known(token_routes: list[str]) -> None:
    assert token_routes == [
        "/apply/answer/{token:str}",
        "/apply/verify/{token:str}",
        "/my/email/verify/{token:str}",
        "/password/reset/{token:str}",
    ]


def test_every_token_route_is_redacted_in_an_access_line(token_routes: list[str]) -> None:
    for route in token_routes:
        path = route.replace("{token:str}", TOKEN)
        line = f'127.0.0.1:5000 - "GET {path}?lang=en HTTP/1.1" 200'
        redacted = logs.redact(line)
        assert TOKEN not in redacted
        assert route.replace("{token:str}", "[redacted]") + "?lang=en" in redacted


def test_other_paths_and_query_secrets() -> None:
    assert logs.redact("/staff/applications/VGbvkYxisTWEkXErpf7vGA") == (
        "/staff/applications/VGbvkYxisTWEkXErpf7vGA"  # an id behind a login, not a secret
    )
    assert logs.redact("/api/v1/barcodes/qr/svg?data=eyJhbGciOi.x.y&module=4") == (
        "/api/v1/barcodes/qr/svg?data=[redacted]&module=4"
    )
    assert logs.redact("/x?a=1&token=abc") == "/x?a=1&token=[redacted]"


def test_the_filter_rewrites_records_of_uvicorn_and_the_app(
    token_routes: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    access = logging.getLogger("uvicorn.access")
    assert any(isinstance(f, logs.RedactLinkTokens) for f in access.filters)
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        access.info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", f"/apply/verify/{TOKEN}", "1.1", 200
        )
    assert TOKEN not in caplog.text
    assert "/apply/verify/[redacted]" in caplog.text
    record = logging.LogRecord(
        "litestar", logging.ERROR, __file__, 1, "Uncaught exception (path=%(path)s)", None, None
    )
    record.args = {"path": f"/password/reset/{TOKEN}"}
    assert logs.RedactLinkTokens().filter(record)
    assert TOKEN not in record.getMessage()


def test_the_serve_command_configures_uvicorn_with_the_filter() -> None:
    config = logs.uvicorn_log_config()
    assert config["filters"]["redact_link_tokens"]["()"] is logs.RedactLinkTokens
    assert {
        name for name, h in config["handlers"].items() if "redact_link_tokens" in h["filters"]
    } == {
        "default",
        "access",
    }


@pytest.mark.usefixtures("token_routes")  # the app registered its routes
def test_an_exception_quoting_a_link_is_redacted_in_its_traceback() -> None:
    log = logging.getLogger("litestar")
    try:
        raise LookupError(f"no link at /apply/answer/{TOKEN}")  # noqa: TRY301  # a raised one
    except LookupError:
        record = log.makeRecord(
            "litestar", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    assert logs.RedactLinkTokens().filter(record)
    text = logging.Formatter().format(record)
    assert "LookupError: no link at /apply/answer/[redacted]" in text
    assert TOKEN not in text
