"""An error's default message is its class docstring's first paragraph on one line: a caller
(JSON, the command line) never sees the source's line breaks, indentation or the notes for
programmers that follow (cardservice.errors.DomainError)."""

from __future__ import annotations

from cardservice.cards.feed import FeedCursorAhead
from cardservice.cards.offline import OfflineDataUnreadable
from cardservice.errors import Conflict


def test_a_docstring_message_reads_as_one_line() -> None:
    ahead = FeedCursorAhead(since=12).as_dict()
    assert ahead["message"] == (
        'The cursor ("since") is ahead of this feed: it came from another server or a '
        'restored database. Sync again without "since" (a full bundle).'
    )
    assert ahead["since"] == 12
    assert "\n" not in OfflineDataUnreadable().message

    class Taken(Conflict):
        """Already
        taken.

        Raised when a second request comes."""

    assert Taken().message == "Already taken."
    assert Taken("Said otherwise.").message == "Said otherwise."
