"""Development certificates for Apple Wallet passes, written into a directory, and the
settings that point at them (``cardservice passes dev-certs``, ``cardservice demo``).

Passes signed with them verify with ``openssl smime -verify -CAfile root.pem`` but no
iPhone accepts them: a real pass needs the pass type certificate from Apple's developer
account and Apple's WWDR intermediate certificate.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from passes.apple_signing import dev_chain

DEV_PASS_TYPE_ID: Final = "pass.org.example.library-card"  # noqa: S105  # an identifier
DEV_TEAM_ID: Final = "DEVTEAM000"
_FILES: Final = ("root.pem", "wwdr.pem", "pass.pem", "pass.key")


def dev_settings(directory: Path, pass_type_id: str, team_id: str) -> dict[str, str]:
    """The ``CARDSERVICE_APPLE_*`` variables that use the chain in ``directory``."""
    return {
        "CARDSERVICE_APPLE_PASS_TYPE_ID": pass_type_id,
        "CARDSERVICE_APPLE_TEAM_ID": team_id,
        "CARDSERVICE_APPLE_PASS_CERTIFICATE": str(directory / "pass.pem"),
        "CARDSERVICE_APPLE_PASS_KEY": str(directory / "pass.key"),
        "CARDSERVICE_APPLE_WWDR_CERTIFICATE": str(directory / "wwdr.pem"),
    }


def has_dev_chain(directory: Path) -> bool:
    return all((directory / name).is_file() for name in _FILES)


def write_dev_chain(
    directory: Path, pass_type_id: str, team_id: str, *, replace: bool = False
) -> dict[str, str]:
    """Make a development chain (``passes.apple_signing.dev_chain``) in ``directory``
    (created 0700; the key 0600) and return :func:`dev_settings`. Raises FileExistsError
    when a chain is there already, unless ``replace``."""
    if has_dev_chain(directory) and not replace:
        raise FileExistsError(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    chain = dev_chain(pass_type_id, team_id)
    for name, body in chain.files().items():
        path = directory / name
        path.unlink(missing_ok=True)
        mode = 0o600 if name.endswith(".key") else 0o644
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(body)
    return dev_settings(directory, pass_type_id, team_id)
