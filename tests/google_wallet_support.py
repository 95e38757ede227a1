"""A Google service-account key file as the Cloud console hands it out, made locally (RSA
2048, PKCS#8 PEM), for the Google Wallet tests."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER_ID = "3388000000022012345"
ACCOUNT_EMAIL = "wallet@minato-library.iam.gserviceaccount.com"
KEY_ID = "0f1e2d3c4b5a69788796a5b4c3d2e1f001234567"


@cache
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def key_file_json() -> bytes:
    pem = private_key().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return json.dumps(
        {
            "type": "service_account",
            "project_id": "minato-library",
            "private_key_id": KEY_ID,
            "private_key": pem.decode(),
            "client_email": ACCOUNT_EMAIL,
            "client_id": "100000000000000000001",
            "token_uri": "https://oauth2.googleapis.com/token",
        }
    ).encode()


def write_key_file(directory: Path) -> Path:
    path = directory / "google-wallet.json"
    path.write_bytes(key_file_json())
    path.chmod(0o600)
    return path
