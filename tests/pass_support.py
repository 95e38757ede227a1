"""Checking an Apple Wallet pass as a device would: every file listed in ``manifest.json``
with its SHA-1, nothing unlisted, and the detached signature verified by OpenSSL against the
development root (``openssl smime -verify``, a subprocess: an implementation that is not
ours)."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import zipfile
from pathlib import Path
from typing import Any

from passes.apple_signing import DevChain, dev_chain

PASS_TYPE_ID = "pass.org.example.library-card"
TEAM_ID = "DEVTEAM001"


def write_chain(directory: Path, chain: DevChain | None = None) -> DevChain:
    """A development chain (made once per call) written to ``directory``."""
    chain = chain or dev_chain(PASS_TYPE_ID, TEAM_ID)
    directory.mkdir(parents=True, exist_ok=True)
    for name, body in chain.files().items():
        (directory / name).write_bytes(body)
    return chain


def opened_pass(body: bytes, root: Path, work: Path) -> dict[str, bytes]:
    """The pass's files, after checking the manifest and the signature (AssertionError
    otherwise). ``root`` is the CA file; ``work`` a directory for OpenSSL's inputs."""
    with zipfile.ZipFile(io.BytesIO(body)) as bundle:
        files = {name: bundle.read(name) for name in bundle.namelist()}
    listed: dict[str, str] = json.loads(files["manifest.json"])
    signed = set(files) - {"manifest.json", "signature"}
    assert set(listed) == signed, "manifest.json lists exactly the other files"
    for name in signed:
        assert listed[name] == hashlib.sha1(files[name], usedforsecurity=False).hexdigest(), name
    work.mkdir(parents=True, exist_ok=True)
    (work / "manifest.json").write_bytes(files["manifest.json"])
    (work / "signature").write_bytes(files["signature"])
    done = subprocess.run(
        [
            "openssl",
            "smime",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-content",
            str(work / "manifest.json"),
            "-in",
            str(work / "signature"),
            "-CAfile",
            str(root),
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert "Verification successful" in done.stderr
    return files


def pass_document(files: dict[str, bytes]) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(files["pass.json"])
    return document
