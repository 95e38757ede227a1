"""The shipped profiles, for the registration tests."""

from __future__ import annotations

import pytest

from cardservice.profiles import Profile, load_profile


@pytest.fixture(scope="session")
def yokohama() -> Profile:
    return load_profile("yokohama")


@pytest.fixture(scope="session")
def kashiwa() -> Profile:
    return load_profile("kashiwa")
