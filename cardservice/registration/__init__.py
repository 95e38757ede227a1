"""Online registration: the application form, eligibility, identity documents.

Every error code raised here has a Japanese and an English message in the ``MESSAGES`` dict
of the module that raises it. Messages are ``str.format`` templates over the error's detail
(for example ``{max}`` in ``too_long``); :func:`localise` renders one.
"""

from __future__ import annotations

from collections.abc import Mapping

Messages = Mapping[str, Mapping[str, str]]  # {code: {"ja": ..., "en": ...}}


def localise(messages: Messages, code: str, **params: object) -> dict[str, str]:
    """The ja and en texts for ``code``, with the error's detail filled in."""
    return {lang: text.format(**params) for lang, text in messages[code].items()}


__all__ = ["Messages", "localise"]
