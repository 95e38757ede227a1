"""``/card/colours.css``: the library's colours (profile ``[colours]``) as CSS custom
properties for the card page. A stylesheet of its own because the pages' Content-Security-
Policy allows no inline style; the service worker keeps it for the offline card."""

from __future__ import annotations

from typing import Any, Final

from litestar import Response, get

from cardservice.patrons.routes.common import AnyRequest
from cardservice.profiles.schema import ColoursSection
from cardservice.web.security import NO_COOKIES
from cardservice.web.state import services

CARD_COLOURS_PATH: Final = "/card/colours.css"


def colours_css(colours: ColoursSection) -> bytes:
    """``:root`` with ``--card-bg``, ``--card-ink`` and ``--card-label`` (``#rrggbb``, checked
    by the profile schema, so nothing else can reach the stylesheet)."""
    return (
        ":root {\n"
        f"  --card-bg: {colours.background};\n"
        f"  --card-ink: {colours.foreground};\n"
        f"  --card-label: {colours.label};\n"
        "}\n"
    ).encode()


@get(CARD_COLOURS_PATH, name="card_colours", opt=NO_COOKIES)
async def card_colours(request: AnyRequest) -> Response[bytes]:
    body = colours_css(services(request).settings.profile.colours)
    return Response(body, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})


ROUTES: list[Any] = [card_colours]
