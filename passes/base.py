"""The one interface every wallet pass builder shares (architecture principle 5).

A builder is a small pure function: it takes what the pass shows (already decided by the
card service) and returns :class:`BuiltPass`, a ``(filename, content_type, body)`` triple that
a web route sends as it is. Builders read no settings, open no database and write no files;
keys come in as objects in memory. Modelled on pretix's ``BaseTicketOutput.generate``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple


class BuiltPass(NamedTuple):
    """A finished pass: the download's file name (``card.pkpass``), its media type
    (``application/vnd.apple.pkpass``) and its bytes (a zip, a JWT, ...)."""

    filename: str
    content_type: str
    body: bytes


# Any builder: keyword arguments of its own, a BuiltPass back.
PassBuilder = Callable[..., BuiltPass]
