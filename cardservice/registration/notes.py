"""Which notes an applicant reads and agrees to before applying (Kashiwa seed,
申請するときの注意点; Yokohama, "Notes").

A new registration's notes tell card holders that they need not apply again, which is wrong
for a renewal, a reissue or a change of details: a patron who started one of those from My
Library (the procedure is fixed and the patron known) reads the procedures' notes instead. An
applicant who comes through ``/apply`` chooses the procedure only on the form, so they read
the registration's notes, followed by the procedures' notes when the library takes those
online, and agree to the registration's version.
"""

from __future__ import annotations

from dataclasses import dataclass

from cardservice.profiles.schema import LongLocalText, Profile
from cardservice.registration.models import Application


@dataclass(frozen=True, slots=True)
class Notes:
    """The version agreed to, the notes, and the procedures' notes shown after them."""

    version: str
    text: LongLocalText
    also: LongLocalText | None = None


def notes_for(app: Application, profile: Profile) -> Notes:
    """The notes ``app``'s applicant agrees to."""
    if app.patron_id is not None and app.procedure != "new":
        return Notes(profile.procedures.notes_version, profile.procedures.notes)
    registration = profile.registration
    others = set(profile.procedures.online) - {"new"}
    return Notes(
        registration.notes_version,
        registration.notes,
        profile.procedures.notes if others else None,
    )


def consent_current(app: Application, profile: Profile) -> bool:
    """Whether the applicant agreed to the notes they read now, in their current version."""
    return app.consent_version == notes_for(app, profile).version
