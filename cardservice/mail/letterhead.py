"""Who an email is from: the library's name for the subject, and its signature block.

Every email's context carries one :class:`Letterhead` under the key ``library``, made by
:func:`letterhead` from the profile's ``[library]`` section in the mail's language. The
subject names the library (【横浜市立図書館】 / [Yokohama City Library]) and
``mail.render`` appends the signature (``templates/email/_signature.{lang}.txt`` and the HTML
layout's footer) to every body, so no template can forget either.
"""

from __future__ import annotations

from dataclasses import dataclass

from cardservice.profiles.schema import Profile


@dataclass(frozen=True, slots=True)
class Letterhead:
    """The library as an email names it, in one language; empty strings are left out."""

    name: str
    department: str = ""
    address: str = ""
    phone: str = ""
    fax: str = ""
    email: str = ""
    url: str = ""
    # Dates in Japanese name the era first (profile ``display.japanese_era``).
    japanese_era: bool = False


def letterhead(profile: Profile, lang: str) -> Letterhead:
    """The letterhead of ``profile``'s library in ``lang`` ("ja" or "en")."""
    library = profile.library
    return Letterhead(
        name=library.name.get(lang),
        department=library.department.get(lang) if library.department else "",
        address=library.address.get(lang) if library.address else "",
        phone=library.phone,
        fax=library.fax,
        email=library.sender_email,
        url=library.url,
        japanese_era=profile.display.japanese_era,
    )
