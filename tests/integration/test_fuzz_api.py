"""Property-based fuzzing of the whole published API (schemathesis), on both engines.

Schemathesis reads ``/api/docs/openapi.json`` from the service running under uvicorn in a
thread, draws requests for every operation (valid ones and ones that break the schema) and
checks each answer: never a server error, a documented status code and content type, a body
that matches the documented schema, 401 without the API key, and a request the schema allows
is accepted. A few dozen examples per operation keep the run to seconds.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from cardservice.app import create_app
from cardservice.profiles import load_profile
from cardservice.services import Services
from cardservice.settings import Settings
from tests.card_support import counter_api_key

# Three operations take input (verify, barcodes, the offline feed): 3 x 2 modes x 25, and one
# request each for those without, about 160 requests per engine.
EXAMPLES_PER_OPERATION = 25
BARCODES = "/api/v1/barcodes/{symbology}/{fmt}"
# A request that breaks the schema must be refused with one of the documented refusals
# (413: the verify body's size limit, which the schema states as the token's maxLength). A
# request the schema allows must be answered: the verify body's schema is exact (one of
# barcode and token, no control character), so only 200; a barcode's data may still be
# text its symbology cannot draw or a module size it does not offer (Codabar's start and
# stop letters, QR's byte count), which the schema of a shared path cannot say: 422. The
# offline feed's cursor may be well formed and still ahead of this feed (a cursor from
# another server): 409 feed_cursor_ahead, which depends on the data, not the schema.
FEED = "/api/v1/offline/feed"
CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "negative_data_rejection": {"expected-statuses": [400, 401, 404, 405, 413, 422]},
            "positive_data_acceptance": {"expected-statuses": [200]},
        },
        "operations": [
            {
                "include-path": BARCODES,
                "checks": {"positive_data_acceptance": {"expected-statuses": [200, 422]}},
            },
            {
                "include-path": FEED,
                "checks": {"positive_data_acceptance": {"expected-statuses": [200, 409]}},
            },
        ],
    }
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def live_api(db_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The service under uvicorn on a free port: (base URL, an API key for the counter)."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    service_settings = Settings.from_env(
        {},
        data_dir=tmp_path / "data",
        database_url=db_url,
        profile=load_profile("example"),
        base_url=base,
        mail_catcher_port=0,
    )

    async def new_key() -> str:
        services = Services.build(service_settings)
        try:
            return await counter_api_key(services)
        finally:
            await services.close()

    key = asyncio.run(new_key())
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(service_settings, mail=False),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "the server did not start"
        assert time.monotonic() < deadline, "the server did not start within 20 s"
        time.sleep(0.05)
    try:
        yield base, key
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_answers_as_its_schema_says(
    live_api: tuple[str, str], mode: GenerationMode
) -> None:
    base, key = live_api
    api = schemathesis.openapi.from_url(f"{base}/api/docs/openapi.json", config=CONFIG)
    operations = [result.ok() for result in api.get_all_operations()]
    assert {op.path for op in operations} >= {
        "/api/v1/verify",
        "/.well-known/jwks.json",
        BARCODES,
        FEED,
    }
    for operation in operations:
        raw = operation.definition.raw
        if mode is GenerationMode.NEGATIVE and not ("parameters" in raw or "requestBody" in raw):
            continue  # nothing to break: no parameters, no body

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(mode))
        def answers_as_documented(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=base, headers={"X-API-Key": key})

        answers_as_documented()
