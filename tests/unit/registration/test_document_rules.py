"""The document rules on the shipped profiles: what a set needs, what fits under a cap, and
what to remove; and a profile where nothing could fit is refused at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from cardservice.errors import ConfigurationError
from cardservice.profiles import Profile, parse_profile
from cardservice.profiles.schema import DocumentsSection
from cardservice.registration.document_rules import EXTRA_SLOT, check_upload, checklist
from cardservice.registration.documents import DocumentRejected

EXAMPLE = (Path(__file__).parents[3] / "cardservice/profiles/example.toml").read_text()
LICENCE = ("drivers_license", "front")
CARD = (("health_insurance", "front"), ("health_insurance", "back"))


def _refusal(
    held: list[tuple[str, str]], new: tuple[str, str], documents: DocumentsSection
) -> DocumentRejected:
    with pytest.raises(DocumentRejected) as caught:
        check_upload(held, new, documents, extra=True)
    return caught.value


def test_yokohama_fits_one_sided_documents_with_the_workplace_one(yokohama: Profile) -> None:
    documents = yokohama.documents
    before = checklist([], documents, identity=True, extra=True)
    assert before.missing == ["identity_document", "extra_document"]
    assert before.too_large == ("health_insurance",)
    assert "health_insurance" not in before.fitting
    refused = _refusal([], CARD[0], documents)
    assert refused.code == "document_does_not_fit"
    assert (refused.detail["needed"], refused.detail["max_files"]) == (3, 2)
    assert "my_number" in refused.detail["fitting"]
    # Living here, the same card fits: two files.
    check_upload([], CARD[0], documents, extra=False)
    check_upload([CARD[0]], CARD[1], documents, extra=False)
    # Two identity documents leave no room: the one outside the kept set is named.
    held = [("my_number", "front"), LICENCE]
    assert checklist(held, documents, identity=True, extra=True).crowding == (LICENCE,)
    refused = _refusal(held, EXTRA_SLOT, documents)
    assert (refused.code, refused.detail["remove"]) == (
        "document_too_many",
        ["drivers_license:front"],
    )
    done = checklist([LICENCE, EXTRA_SLOT], documents, identity=True, extra=True)
    assert (done.complete, done.missing) == ("drivers_license", [])


def test_kashiwa_counts_nothing_and_needs_a_licence_front_only(kashiwa: Profile) -> None:
    documents = kashiwa.documents
    assert documents.max_files is None
    for held, new in (([], CARD[0]), ([CARD[0]], CARD[1]), (list(CARD), EXTRA_SLOT)):
        check_upload(held, new, documents, extra=True)
    licence = checklist([LICENCE], documents, identity=True, extra=False)
    assert (licence.complete, licence.missing) == ("drivers_license", [])
    half = checklist([CARD[0]], documents, identity=True, extra=False)
    assert half.started == {"health_insurance": ("back",)}
    assert half.missing == ["identity_document"]
    # The licence's back alone (the wrong side attached): its front is asked for by name.
    back = checklist([("drivers_license", "back")], documents, identity=True, extra=False)
    assert (back.complete, back.started) == (None, {"drivers_license": ("front",)})


def test_a_cap_no_document_fits_under_is_refused_at_start() -> None:
    assert "max_files = 2" in EXAMPLE
    with pytest.raises(ConfigurationError) as caught:
        parse_profile(EXAMPLE.replace("max_files = 2", "max_files = 1", 1))
    assert "max_files" in str(caught.value)
