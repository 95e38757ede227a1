"""Password hashing (Argon2id) and the password policies a library profile can choose.

Every password is NFKC-normalised before it is checked, hashed or verified, so the same
keystrokes give the same hash whatever the input method sent (full-width letters and
digits become ASCII, an ideographic space a plain space). Hashing runs in a thread: Argon2
is deliberately slow and would otherwise stall every other request on the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from typing import Any, TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from cardservice.errors import ConfigurationError, InvalidInput
from cardservice.profiles.schema import PasswordSection

# Above OWASP's minimums (m=19 MiB/t=2 or m=46 MiB/t=1, p=1): 46 MiB and two passes measured
# about 75-115 ms a hash on the 2-core reference machine, under the 150 ms budget for a login.
TIME_COST = 2
MEMORY_COST_KIB = 47_104
PARALLELISM = 1
_HASHER = PasswordHasher(
    time_cost=TIME_COST,
    memory_cost=MEMORY_COST_KIB,
    parallelism=PARALLELISM,
    hash_len=32,
    salt_len=16,
    type=Type.ID,
)

# Hashes run on at most this many threads, one core fewer than the machine has (at least
# one): a burst of registrations or logins queues its hashes and leaves a core to the event
# loop, so pages keep answering; on every thread of the default pool they would take every
# core, and each page (and each write transaction, which holds SQLite's lock) would slow.
HASHING_THREADS = max(1, (os.cpu_count() or 2) - 1)
T = TypeVar("T")
_HASHING = ThreadPoolExecutor(max_workers=HASHING_THREADS, thread_name_prefix="argon2")


async def _hashing(work: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(_HASHING, work, *args)


# NIST SP 800-63B: at least 8 characters and allow at least 64.
NIST_MIN_LENGTH = 8
NIST_MAX_LENGTH_AT_LEAST = 64
# An email local part shorter than this would refuse too many passwords by containment.
_MIN_LOCAL_PART = 4

# Shown next to the password field; {min}, {max} and {symbols} come from the policy.
MESSAGES: dict[str, dict[str, str]] = {
    "password_too_short": {
        "ja": "パスワードは{min}文字以上にしてください。",
        "en": "The password must be at least {min} characters long.",
    },
    "password_too_long": {
        "ja": "パスワードは{max}文字以内にしてください。",
        "en": "The password must be at most {max} characters long.",
    },
    "password_needs_letter": {
        "ja": "パスワードには英字を1文字以上含めてください。",
        "en": "The password must contain at least one letter (a-z, A-Z).",
    },
    "password_needs_digit": {
        "ja": "パスワードには数字を1文字以上含めてください。",
        "en": "The password must contain at least one digit (0-9).",
    },
    "password_needs_symbol": {
        "ja": "パスワードには記号「{symbols}」のいずれかを1文字以上含めてください。",
        "en": "The password must contain at least one of these symbols: {symbols}",
    },
    "password_bad_character": {
        "ja": "パスワードに使えない文字が含まれています。",
        "en": "The password contains a character that is not allowed.",
    },
    "password_common": {
        "ja": "よく使われていて推測されやすいパスワードです。別のパスワードにしてください。",
        "en": "This password is too common and easy to guess. Please choose another.",
    },
    "password_contains_email": {
        "ja": "パスワードにメールアドレスを含めないでください。",
        "en": "The password must not contain your email address.",
    },
}


# After "password_bad_character" under a composition policy: which characters it allows (a
# space, allowed by most sites, is the usual surprise).
ALLOWED_CHARACTERS: dict[str, str] = {
    "ja": "使えるのは英字・数字と記号「{symbols}」だけで、空白や全角文字は使えません。",
    "en": " Use only letters (a-z, A-Z), digits (0-9) and these symbols: {symbols}"
    " (no spaces or full-width characters).",
}


class PasswordRejected(InvalidInput):
    """The password does not meet the password policy."""

    code = "password_rejected"


def message(code: str, lang: str, policy: PasswordSection) -> str:
    """The text for ``code`` in ``lang`` ("ja" or "en"), filled in from ``policy``."""
    texts = MESSAGES[code]
    text = texts["en"] if lang == "en" else texts["ja"]
    if code == "password_bad_character" and policy.policy == "composition":
        text += ALLOWED_CHARACTERS["en" if lang == "en" else "ja"]
    return text.format(min=policy.min_length, max=policy.max_length, symbols=policy.symbols)


def normalise(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def check_policy(policy: PasswordSection) -> None:
    """Refuse a profile whose "nist" policy falls below what NIST asks for."""
    if policy.policy != "nist":
        return
    if policy.min_length < NIST_MIN_LENGTH:
        raise ConfigurationError("password.min_length", f"nist needs {NIST_MIN_LENGTH} or more")
    if policy.max_length < NIST_MAX_LENGTH_AT_LEAST:
        raise ConfigurationError(
            "password.max_length", f"nist must allow {NIST_MAX_LENGTH_AT_LEAST} or more"
        )


def check_password(policy: PasswordSection, password: str, *, email: str | None) -> None:
    """Raise :class:`PasswordRejected` with the first rule ``password`` breaks."""
    check_policy(policy)
    candidate = normalise(password)
    _check_length(policy, candidate)
    if policy.policy == "composition":
        _check_composition(policy, candidate)
    else:
        _check_nist(policy, candidate)
    if email:
        _check_email(policy, candidate, email)


def _reject(code: str, policy: PasswordSection, **detail: Any) -> PasswordRejected:
    return PasswordRejected(message(code, "en", policy), code=code, field="password", **detail)


def _check_length(policy: PasswordSection, candidate: str) -> None:
    # Length in code points after normalisation, as NIST counts it.
    if len(candidate) < policy.min_length:
        raise _reject("password_too_short", policy, min_length=policy.min_length)
    if len(candidate) > policy.max_length:
        raise _reject("password_too_long", policy, max_length=policy.max_length)


def _check_composition(policy: PasswordSection, candidate: str) -> None:
    symbols = set(policy.symbols)
    if any(not _is_ascii_alnum(c) and c not in symbols for c in candidate):
        raise _reject("password_bad_character", policy)
    if not any(c.isascii() and c.isalpha() for c in candidate):
        raise _reject("password_needs_letter", policy)
    if not any(c.isascii() and c.isdigit() for c in candidate):
        raise _reject("password_needs_digit", policy)
    if not any(c in symbols for c in candidate):
        raise _reject("password_needs_symbol", policy)


def _is_ascii_alnum(char: str) -> bool:
    return char.isascii() and char.isalnum()


def _check_nist(policy: PasswordSection, candidate: str) -> None:
    # Any printable character, spaces included; control and format characters are refused
    # because a person cannot type them reliably again.
    if not candidate.isprintable():
        raise _reject("password_bad_character", policy)
    if candidate.lower() in blocklist():
        raise _reject("password_common", policy)


def _check_email(policy: PasswordSection, candidate: str, email: str) -> None:
    lowered = candidate.lower()
    address = normalise(email).strip().lower()
    local = address.split("@", 1)[0]
    if lowered == address or (len(local) >= _MIN_LOCAL_PART and local in lowered):
        raise _reject("password_contains_email", policy)


@cache
def blocklist() -> frozenset[str]:
    """The common passwords shipped in ``blocklist.txt``: lower-cased, NFKC."""
    text = files("cardservice.security").joinpath("blocklist.txt").read_text("utf-8")
    return frozenset(
        normalise(line).lower()
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )


async def hash_password(password: str) -> str:
    """An Argon2id hash in PHC string form (``$argon2id$v=19$m=...,t=...,p=...$salt$hash``)."""
    return await _hashing(_HASHER.hash, normalise(password))


@dataclass(frozen=True, slots=True)
class Prehashed:
    """A password hashed before its write transaction opens (:func:`prehash`), kept with
    the password it hashes, so that the transaction stores it only for the password it
    validated. Both stay out of ``repr``."""

    password: str = field(repr=False)
    hash: str = field(repr=False)

    def hash_of(self, password: str) -> str | None:
        """The hash, if it is the hash of ``password``; else None (hash that one anew)."""
        return self.hash if self.password == password else None


async def prehash(password: str) -> Prehashed:
    """:func:`hash_password` ahead of a write transaction: Argon2 takes about 100 ms of CPU,
    and on SQLite a write transaction holds the database's one write lock all along, so
    every other writer would wait for the hash (``db/engine.py``)."""
    return Prehashed(password, await hash_password(password))


@dataclass(frozen=True, slots=True)
class Verified:
    """The outcome of :func:`verify_password`.

    ``new_hash`` is set when the password was right but the stored hash used weaker
    parameters than today's: the caller stores it, so hashes strengthen as people log in.
    """

    ok: bool
    new_hash: str | None = None


async def verify_password(stored_hash: str, password: str) -> Verified:
    """Check ``password`` against ``stored_hash`` in constant time (argon2's own compare)."""
    return await _hashing(_verify, stored_hash, normalise(password))


def _verify(stored_hash: str, password: str) -> Verified:
    try:
        _HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return Verified(ok=False)
    if _HASHER.check_needs_rehash(stored_hash):
        return Verified(ok=True, new_hash=_HASHER.hash(password))
    return Verified(ok=True)


def password_fingerprint(password_hash: str | None) -> str:
    """For a login session: changes when the password does; not the hash itself, which
    stays in the database."""
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:32]


async def dummy_hash() -> str:
    """A hash of nothing anybody knows, to verify against when a user does not exist."""
    global _dummy  # noqa: PLW0603  # computed once, on first need, off the event loop
    if _dummy is None:
        _dummy = await hash_password(_DUMMY_PASSWORD)
    return _dummy


_DUMMY_PASSWORD = (
    "no user has this password: " + "x" * 16
)  # not a secret: results against it are thrown away
_dummy: str | None = None
