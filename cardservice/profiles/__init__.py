"""Library profiles: the rules in which libraries differ, as TOML files.

``load_profile("yokohama")`` loads a shipped profile; a path loads the library's own file.
A bad value fails at start with a :class:`ConfigurationError` naming the key.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import msgspec

from cardservice.errors import ConfigurationError
from cardservice.profiles.schema import Profile, decode_profile

SHIPPED = ("example", "yokohama", "kashiwa")

_PATH_IN_MESSAGE = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")
_UNKNOWN_FIELD = re.compile(r"(?:unknown|missing required) field `(?P<field>[^`]+)`")


def load_profile(name_or_path: str) -> Profile:
    """Load a shipped profile by name, or a profile file by path."""
    if name_or_path in SHIPPED:
        source = resources.files(__package__).joinpath(f"{name_or_path}.toml")
        label = f"profile {name_or_path}"
        data = source.read_bytes()
    else:
        path = Path(name_or_path)
        label = f"profile file {path}"
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigurationError(
                "CARDSERVICE_PROFILE",
                f"no shipped profile of that name ({', '.join(SHIPPED)}) and the file "
                f"cannot be read: {exc.strerror}",
            ) from exc
    return parse_profile(data, label=label)


def parse_profile(data: bytes | str, *, label: str = "profile") -> Profile:
    """The profile in ``data`` (TOML), its sender address in the form mail is sent from.

    Raises :class:`ConfigurationError` naming the key for a value the schema refuses, and
    for a ``library.sender_email`` that the one address rule (``mail.addresses``) refuses.
    """
    # Imported here: the mail package imports the settings, which import the profiles.
    from cardservice.mail.addresses import normalise_address  # noqa: PLC0415
    from cardservice.mail.errors import InvalidRecipient  # noqa: PLC0415

    try:
        profile = decode_profile(data)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ConfigurationError(_key_of(str(exc), label), str(exc)) from exc
    try:
        sender = normalise_address(profile.library.sender_email, field="sender_email")
    except InvalidRecipient as exc:
        raise ConfigurationError(
            f"{label}: library.sender_email",
            "not an address mail can be sent from (see the README on email addresses)",
        ) from exc
    library = msgspec.structs.replace(profile.library, sender_email=sender)
    return msgspec.structs.replace(profile, library=library)


def _key_of(message: str, label: str) -> str:
    """The dotted profile key a msgspec error message points at."""
    path = ""
    found = _PATH_IN_MESSAGE.search(message)
    if found:
        path = found.group("path")
    unknown = _UNKNOWN_FIELD.search(message)
    if unknown:
        path = f"{path}.{unknown.group('field')}" if path else unknown.group("field")
    return f"{label}: {path}" if path else label


__all__ = ["SHIPPED", "Profile", "load_profile", "parse_profile"]
