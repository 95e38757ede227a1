"""The home page: what the service is, and the ways in."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.response import Template

from cardservice.web.i18n import language
from cardservice.web.pages import render
from cardservice.web.state import services


@get("/", name="home")
async def home(request: Request[Any, Any, Any]) -> Template:
    profile = services(request).settings.profile
    return render(
        request,
        "pages/home.html",
        notes=profile.registration.notes.get(language(request)),
        sender_email=profile.library.sender_email,
    )


ROUTES = [home]
