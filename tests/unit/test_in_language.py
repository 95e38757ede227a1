"""``i18n.in_language``: a page of this service asked for in a language by its address."""

from __future__ import annotations

import pytest

from cardservice.i18n import in_language


@pytest.mark.parametrize(
    ("url", "lang", "expected"),
    [
        ("https://lib.example/my", "en", "https://lib.example/my?lang=en"),
        ("https://lib.example/card?x=1", "en", "https://lib.example/card?x=1&lang=en"),
        # The query goes before the fragment, where a browser reads it.
        ("https://lib.example/my#procedures", "en", "https://lib.example/my?lang=en#procedures"),
        ("https://lib.example/a?b=1#c", "en", "https://lib.example/a?b=1&lang=en#c"),
        # Japanese is the default: nothing is added; nor for a language the service lacks.
        ("https://lib.example/my#procedures", "ja", "https://lib.example/my#procedures"),
        ("https://lib.example/my", "fr", "https://lib.example/my"),
    ],
)
def test_the_language_goes_in_the_query(url: str, lang: str, expected: str) -> None:
    assert in_language(url, lang) == expected
