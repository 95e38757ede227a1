"""Barcode images are conditional GETs by RFC 9110: ``If-None-Match: *`` and a list of
entity-tags (weak comparison) answer 304 when the client holds the image."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from cardservice.cards.routes import none_match_fails
from cardservice.services import Services
from tests.web_support import Client, web_client, with_free_catcher_port

IMAGE = "/api/v1/barcodes/codabar/svg?data=A2000000014A"


@pytest.fixture
async def client(services: Services) -> AsyncIterator[Client]:
    async with web_client(with_free_catcher_port(services.settings), mail=False) as running:
        yield running


@pytest.fixture
async def etag(client: Client) -> str:
    first = await client.get(IMAGE)
    assert first.status_code == 200
    tag: str = first.headers["etag"]
    assert tag.startswith('"')
    assert tag.endswith('"')
    return tag


@pytest.mark.parametrize(
    "header",
    [
        "*",
        " * ",
        "{etag}",
        "W/{etag}",
        '"other", {etag}',
        '"other",W/{etag} , "third"',
        '"a,b", {etag}',  # a comma inside a tag is part of that tag
    ],
)
async def test_a_matching_if_none_match_is_304(client: Client, etag: str, header: str) -> None:
    response = await client.get(IMAGE, headers={"If-None-Match": header.format(etag=etag)})
    assert response.status_code == 304, header
    assert response.content == b""
    assert response.headers["etag"] == etag
    assert "public" in response.headers["cache-control"]


@pytest.mark.parametrize(
    "header", ['"other"', '"other", W/"another"', "{bare}", '"{bare},x"', "", "**"]
)
async def test_an_if_none_match_that_does_not_match_sends_the_image(
    client: Client, etag: str, header: str
) -> None:
    value = header.format(bare=etag.strip('"'))
    response = await client.get(IMAGE, headers={"If-None-Match": value})
    assert response.status_code == 200, header
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.content.startswith(b"<")


async def test_if_none_match_over_several_header_lines(client: Client, etag: str) -> None:
    response = await client.get(
        IMAGE, headers=[("If-None-Match", '"other"'), ("If-None-Match", etag)]
    )
    assert response.status_code == 304


async def test_star_does_not_hide_a_refusal(client: Client) -> None:
    # "*" matches a current representation; data that cannot be drawn has none.
    response = await client.get(
        "/api/v1/barcodes/codabar/svg?data=XYZ", headers={"If-None-Match": "*"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "barcode_unencodable"


def test_weak_comparison_ignores_w_on_both_sides() -> None:
    assert none_match_fails(['W/"abc"'], '"abc"')
    assert none_match_fails(['"abc"'], 'W/"abc"')
    assert none_match_fails(['W/"abc"'], 'W/"abc"')
    assert not none_match_fails(['"abcd"'], '"abc"')
    assert not none_match_fails([], '"abc"')
