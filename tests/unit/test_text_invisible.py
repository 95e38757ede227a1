"""What counts as invisible in a typed message (``text.has_invisible``): controls and format
characters, but not the zero-width joiner inside an emoji that a phone's keyboard writes."""

from __future__ import annotations

import pytest

from cardservice.text import has_invisible


@pytest.mark.parametrize(
    "emoji",
    [
        "\U0001f647\u200d\u2640\ufe0f",  # person bowing, woman: the joiner before ♀
        "\U0001f468\u200d\U0001f469\u200d\U0001f467",  # family of three
        "\U0001f3f3\ufe0f\u200d\U0001f308",  # rainbow flag: the joiner after a selector
        "\U0001f469\U0001f3fd\u200d\U0001f4bb",  # technologist with a skin tone
    ],
)
def test_an_emoji_joined_by_a_zero_width_joiner_is_visible(emoji: str) -> None:
    assert not has_invisible(f"よろしくお願いします{emoji}\n")


@pytest.mark.parametrize(
    "text",
    [
        "a\u200db",  # a joiner between letters shows nothing
        "末尾\u200d",  # nor at the end
        "\u200b\U0001f647",  # a zero-width space stays invisible, before an emoji too
        "住所\u202eです",  # a bidi override
        "改行\r\nです",  # a carriage return, once line breaks are not made \n
    ],
)
def test_other_format_and_control_characters_are_invisible(text: str) -> None:
    assert has_invisible(text)
