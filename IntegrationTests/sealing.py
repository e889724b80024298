"""An independent reader and writer of sealed envelopes (doc/Ledger.md, "Sealed envelopes"), on
Debian's python3-cryptography, so that tests check what a gateway serves and stages with an
implementation that is not the plugin's."""

import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"INBSEAL1"
HKDF_INFO = b"Orthanc Inbound sealed envelope INBSEAL1 X25519 HKDF-SHA256 AES-256-GCM"
KEY_ID_SIZE = 8
PUBLIC_KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16
HEADER_SIZE = len(MAGIC) + KEY_ID_SIZE + PUBLIC_KEY_SIZE + NONCE_SIZE
OVERHEAD = HEADER_SIZE + TAG_SIZE


class SealingError(ValueError):
    """The bytes are no envelope, were sealed for another key or context, or were changed."""


def _bytes(value):
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _raw_public(public_key):
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _public_key(public_pem):
    key = serialization.load_pem_public_key(_bytes(public_pem))
    if not isinstance(key, X25519PublicKey):
        raise SealingError("not an X25519 public key")
    return key


def new_key_pair():
    """(private PEM as PKCS#8, public PEM as SubjectPublicKeyInfo), both bytes."""
    key = X25519PrivateKey.generate()
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    return private_pem, public_pem


def public_pem_of(private_pem):
    key = serialization.load_pem_private_key(_bytes(private_pem), password=None)
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(public_pem):
    """16 lower-case hex characters: the start of the SHA-256 of the DER SubjectPublicKeyInfo."""
    der = _public_key(public_pem).public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()[:2 * KEY_ID_SIZE]


def read_key_id(envelope):
    """The key id an envelope names, or None when the bytes are no envelope."""
    envelope = _bytes(envelope)
    if len(envelope) < OVERHEAD or not envelope.startswith(MAGIC):
        return None
    return envelope[len(MAGIC):len(MAGIC) + KEY_ID_SIZE].hex()


def _aes_key(shared, ephemeral_public, recipient_public):
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral_public + recipient_public,
                info=HKDF_INFO)
    return hkdf.derive(shared)


def open_envelope(private_pem, envelope, context):
    """The plaintext of an envelope sealed for this private key and context; SealingError
    otherwise."""
    envelope = _bytes(envelope)
    key = serialization.load_pem_private_key(_bytes(private_pem), password=None)
    if not isinstance(key, X25519PrivateKey):
        raise SealingError("not an X25519 private key")
    found = read_key_id(envelope)
    if found is None:
        raise SealingError("not a sealed envelope")
    recipient_public = _raw_public(key.public_key())
    expected = key_id(public_pem_of(private_pem))
    if found != expected:
        raise SealingError("sealed for key %s, not for key %s" % (found, expected))
    start = len(MAGIC) + KEY_ID_SIZE
    ephemeral_public = envelope[start:start + PUBLIC_KEY_SIZE]
    nonce = envelope[start + PUBLIC_KEY_SIZE:HEADER_SIZE]
    try:
        shared = key.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
    except ValueError as e:  # a low-order point: no shared secret
        raise SealingError("the envelope's ephemeral key is not usable") from e
    aes = AESGCM(_aes_key(shared, ephemeral_public, recipient_public))
    try:
        return aes.decrypt(nonce, envelope[HEADER_SIZE:], envelope[:HEADER_SIZE] + _bytes(context))
    except InvalidTag as e:
        raise SealingError("the envelope was changed, or sealed for another context") from e


def seal_envelope(public_pem, plaintext, context, ephemeral_private=None, nonce=None):
    """An envelope of "plaintext" for this public key; a fixed ephemeral key and nonce give a
    reproducible envelope (test vectors only: never reuse them)."""
    recipient = _public_key(public_pem)
    ephemeral = ephemeral_private or X25519PrivateKey.generate()
    nonce = os.urandom(NONCE_SIZE) if nonce is None else nonce
    if len(nonce) != NONCE_SIZE:
        raise ValueError("a nonce has %d bytes" % NONCE_SIZE)
    ephemeral_public = _raw_public(ephemeral.public_key())
    header = MAGIC + bytes.fromhex(key_id(public_pem)) + ephemeral_public + nonce
    aes = AESGCM(_aes_key(ephemeral.exchange(recipient), ephemeral_public, _raw_public(recipient)))
    return header + aes.encrypt(nonce, _bytes(plaintext), header + _bytes(context))
