"""Signing Apple Wallet passes, and a development certificate chain to sign them with.

A pass's ``signature`` is a detached PKCS #7 signature of ``manifest.json`` (DER, SHA-256),
made with the pass type certificate and carrying Apple's WWDR intermediate certificate, so
that a device can build the chain to Apple's root (Apple, "Building a Pass": "Sign the
Pass and Create the Bundle"). Keys are read into memory once and never written to a
temporary file: cryptography's ``PKCS7SignatureBuilder`` signs in memory, where the usual
recipe shells out to ``openssl smime`` with the key on disk.

:func:`dev_chain` makes a self-signed stand-in for Apple's chain (root, a "WWDR"
intermediate, a pass certificate naming the pass type id) for development and tests; a
device refuses such passes, ``openssl smime -verify -CAfile root.pem`` accepts them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class SignerError(ValueError):
    """The pass certificate, its key or the WWDR certificate cannot be used (the message
    says which and why). ``part`` names what to fix: ``"certificate"``, ``"key"``,
    ``"password"`` (the key's) or ``"wwdr"``."""

    def __init__(self, message: str, part: str = "certificate") -> None:
        super().__init__(message)
        self.part = part


@dataclass(frozen=True, slots=True)
class PassSigner:
    """The pass type certificate, its private key and the WWDR intermediate, in memory."""

    certificate: x509.Certificate
    key: SigningKey
    wwdr: x509.Certificate

    def __repr__(self) -> str:  # never the key, even in a traceback's locals
        return f"PassSigner(pass_type_id={self.pass_type_id!r})"

    @property
    def pass_type_id(self) -> str | None:
        """The certificate's UID, which Apple sets to the pass type identifier."""
        return _uid(self.certificate)

    @property
    def team_id(self) -> str | None:
        """The certificate's OU, which Apple sets to the team identifier."""
        found = self.certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
        return str(found[0].value) if found else None

    def sign(self, manifest: bytes) -> bytes:
        """The DER detached signature of ``manifest`` (``manifest.json``'s bytes): SHA-256,
        signed attributes (content type, signing time, digest), the pass certificate and the
        WWDR certificate included, the content itself left out (Binary: no MIME
        canonicalisation of the bytes)."""
        return (
            pkcs7.PKCS7SignatureBuilder()
            .set_data(manifest)
            .add_signer(self.certificate, self.key, hashes.SHA256())
            .add_certificate(self.wwdr)
            .sign(
                serialization.Encoding.DER,
                [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary],
            )
        )

    @classmethod
    def from_pem(
        cls, certificate: bytes, key: bytes, wwdr: bytes, *, password: bytes | None = None
    ) -> PassSigner:
        """From PEM bytes. Raises :class:`SignerError` when one does not parse, the key is
        not RSA or EC, or the key does not belong to the certificate."""
        try:
            cert = x509.load_pem_x509_certificate(certificate)
        except ValueError:
            raise SignerError("the pass certificate is not a PEM certificate") from None
        try:
            intermediate = x509.load_pem_x509_certificate(wwdr)
        except ValueError:
            raise SignerError("the WWDR certificate is not a PEM certificate", "wwdr") from None
        private = _private_key(key, password)
        if not isinstance(private, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise SignerError("the pass key must be an RSA or EC key", "key")
        if private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ) != cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ):
            raise SignerError("the pass key does not belong to the pass certificate", "key")
        return cls(certificate=cert, key=private, wwdr=intermediate)

    @classmethod
    def from_files(
        cls, certificate: Path, key: Path, wwdr: Path, *, password: bytes | None = None
    ) -> PassSigner:
        """:meth:`from_pem` with the three files read (once, into memory)."""
        texts = []
        for part, path in (("certificate", certificate), ("key", key), ("wwdr", wwdr)):
            try:
                texts.append(path.read_bytes())
            except OSError as exc:
                raise SignerError(f"cannot read {path}: {exc.strerror}", part) from None
        return cls.from_pem(*texts, password=password)


def _private_key(key: bytes, password: bytes | None) -> PrivateKeyTypes:
    """The PEM private key; :class:`SignerError` with ``part`` ``"password"`` when the
    password is missing, wrong, or given for a key without one, else ``"key"``."""
    encrypted = b"ENCRYPTED" in key
    if encrypted and not password:
        raise SignerError("the pass key is encrypted: its password is not set", "password")
    if password and not encrypted and b"PRIVATE KEY" in key:
        raise SignerError("the pass key has no password: leave the password empty", "password")
    try:
        return serialization.load_pem_private_key(key, password=password)
    except (ValueError, TypeError):
        if encrypted:
            raise SignerError("the pass key's password is wrong", "password") from None
        raise SignerError("the pass key is not a PEM private key", "key") from None


def _uid(cert: x509.Certificate) -> str | None:
    found = cert.subject.get_attributes_for_oid(NameOID.USER_ID)
    return str(found[0].value) if found else None


@dataclass(frozen=True, slots=True)
class DevChain:
    """PEM files of a development chain: ``root`` (the CA file to verify against),
    ``wwdr`` (the intermediate), ``certificate`` and ``key`` (the pass signer's)."""

    root: bytes
    wwdr: bytes
    certificate: bytes
    key: bytes

    def files(self) -> dict[str, bytes]:
        """File names and contents, as ``cardservice passes dev-certs`` writes them."""
        return {
            "root.pem": self.root,
            "wwdr.pem": self.wwdr,
            "pass.pem": self.certificate,
            "pass.key": self.key,
        }


def dev_chain(
    pass_type_id: str, team_id: str, *, organization: str = "cardservice development"
) -> DevChain:
    """A self-signed root, a "WWDR" intermediate it signs, and a pass certificate the
    intermediate signs, shaped like Apple's (subject UID = ``pass_type_id``, OU =
    ``team_id``, CN "Pass Type ID: ..."). EC P-256 keys; valid from an hour ago for two
    years. For development only: no device trusts the root."""
    now = datetime.now(UTC) - timedelta(hours=1)
    until = now + timedelta(days=730)
    root_key = ec.generate_private_key(ec.SECP256R1())
    wwdr_key = ec.generate_private_key(ec.SECP256R1())
    pass_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name(f"{organization} root CA", organization)
    wwdr_name = _name(f"{organization} WWDR (development)", organization)
    root = _certificate(
        root_name,
        subject_key=root_key,
        issuer=root_name,
        issuer_key=root_key,
        not_before=now,
        not_after=until,
        ca=True,
    )
    wwdr = _certificate(
        wwdr_name,
        subject_key=wwdr_key,
        issuer=root_name,
        issuer_key=root_key,
        not_before=now,
        not_after=until,
        ca=True,
    )
    pass_name = x509.Name(
        [
            x509.NameAttribute(NameOID.USER_ID, pass_type_id),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Pass Type ID: {pass_type_id}"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, team_id),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        ]
    )
    leaf = _certificate(
        pass_name,
        subject_key=pass_key,
        issuer=wwdr_name,
        issuer_key=wwdr_key,
        not_before=now,
        not_after=until,
        ca=False,
    )
    return DevChain(
        root=_pem(root),
        wwdr=_pem(wwdr),
        certificate=_pem(leaf),
        key=pass_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def _name(common: str, organization: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        ]
    )


def _certificate(
    subject: x509.Name,
    *,
    subject_key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    not_before: datetime,
    not_after: datetime,
    ca: bool,
) -> x509.Certificate:
    public = subject_key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    if ca:
        usage = x509.KeyUsage(
            digital_signature=False,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=True,
            crl_sign=True,
            encipher_only=False,
            decipher_only=False,
        )
    else:
        usage = x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=False,
            crl_sign=False,
            encipher_only=False,
            decipher_only=False,
        )
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False
        )
    builder = builder.add_extension(usage, critical=True)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)
