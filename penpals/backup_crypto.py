"""Streamed authenticated encryption of backup files (AES-256-GCM).

A file is a header, then records of at most CHUNK_BYTES of plaintext each, so
a dump of any size is encrypted and decrypted a chunk at a time:

    header  = MAGIC (6) | key id (8) | salt (16)
    record  = last flag (1) | ciphertext length (4, big-endian) | ciphertext+tag

Each file gets its own key, derived with HKDF from the backup key, the random
salt and the file's name (so two files cannot be swapped), and each chunk its
own nonce: the chunk's index and the last flag (the STREAM construction). The
header is the associated data of every chunk. Reordered, dropped or altered
chunks fail authentication; a stream that ends before a chunk flagged last is
reported as truncated. The key id is an HMAC of a fixed label: it tells a wrong
key from a tampered file without revealing anything about the key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"PPBK\x00\x01"
CHUNK_BYTES = 1024 * 1024
KEY_BYTES = 32
_SALT_BYTES = 16
_KEY_ID_BYTES = 8
_HEADER_BYTES = len(MAGIC) + _KEY_ID_BYTES + _SALT_BYTES
_TAG_BYTES = 16


class BackupError(Exception):
    """A backup or restore cannot go on; the message says why, for an operator."""


class BackupKeyError(BackupError):
    pass


class BackupIntegrityError(BackupError):
    pass


def parse_key(text: str) -> bytes:
    """The 32-byte key from its base64 text (as README's key command prints it)."""
    try:
        key = base64.b64decode(text.strip() + "=" * (-len(text.strip()) % 4), altchars=b"-_")
    except (binascii.Error, ValueError):
        raise BackupKeyError("BACKUP_ENCRYPTION_KEY is not base64.") from None
    if len(key) != KEY_BYTES:
        raise BackupKeyError(
            f"BACKUP_ENCRYPTION_KEY must decode to {KEY_BYTES} bytes, not {len(key)}."
        )
    return key


def key_id(key: bytes) -> bytes:
    return hmac.new(key, b"penpals-backup key id", hashlib.sha256).digest()[:_KEY_ID_BYTES]


def _file_cipher(key: bytes, salt: bytes, name: str) -> AESGCM:
    derived = HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_BYTES,
        salt=salt,
        info=b"penpals-backup file " + name.encode(),
    ).derive(key)
    return AESGCM(derived)


def _nonce(index: int, is_last: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\x01" if is_last else b"\x00")


def is_encrypted(head: bytes) -> bool:
    return head.startswith(MAGIC)


class EncryptingWriter:
    """Write plaintext in, encrypted records out to `raw`. close() writes the
    last chunk and must be called, or the file reads as truncated."""

    def __init__(self, raw: BinaryIO, key: bytes, name: str):
        self._raw = raw
        salt = os.urandom(_SALT_BYTES)
        self._header = MAGIC + key_id(key) + salt
        self._cipher = _file_cipher(key, salt, name)
        self._buffer = bytearray()
        self._index = 0
        self._closed = False
        raw.write(self._header)

    def write(self, plaintext: bytes) -> int:
        self._buffer += plaintext
        # A chunk is only known not to be the last once more data follows it.
        while len(self._buffer) > CHUNK_BYTES:
            self._emit(bytes(self._buffer[:CHUNK_BYTES]), is_last=False)
            del self._buffer[:CHUNK_BYTES]
        return len(plaintext)

    def _emit(self, chunk: bytes, *, is_last: bool) -> None:
        sealed = self._cipher.encrypt(_nonce(self._index, is_last), chunk, self._header)
        self._raw.write((b"\x01" if is_last else b"\x00") + len(sealed).to_bytes(4, "big"))
        self._raw.write(sealed)
        self._index += 1

    def close(self) -> None:
        if not self._closed:
            self._emit(bytes(self._buffer), is_last=True)
            self._buffer.clear()
            self._closed = True


class DecryptingReader:
    """Read plaintext from the encrypted file `raw`. Raises BackupKeyError for
    another key and BackupIntegrityError for a tampered or truncated file."""

    def __init__(self, raw: BinaryIO, key: bytes, name: str):
        self._raw = raw
        self._name = name
        header = _read_exactly(raw, _HEADER_BYTES)
        if len(header) < _HEADER_BYTES or not header.startswith(MAGIC):
            raise BackupIntegrityError(f"{name}: not an encrypted backup file.")
        if not hmac.compare_digest(header[len(MAGIC) : len(MAGIC) + _KEY_ID_BYTES], key_id(key)):
            raise BackupKeyError(
                f"{name} was encrypted with another key: check BACKUP_ENCRYPTION_KEY."
            )
        self._header = header
        self._cipher = _file_cipher(key, header[-_SALT_BYTES:], name)
        self._buffer = bytearray()
        self._index = 0
        self._done = False

    def _next_chunk(self) -> None:
        prefix = _read_exactly(self._raw, 5)
        if len(prefix) < 5:
            raise BackupIntegrityError(f"{self._name} is truncated: its last chunk is missing.")
        is_last = prefix[0] == 1
        length = int.from_bytes(prefix[1:], "big")
        if prefix[0] > 1 or length > CHUNK_BYTES + _TAG_BYTES:
            raise BackupIntegrityError(f"{self._name} is corrupted or was tampered with.")
        sealed = _read_exactly(self._raw, length)
        if len(sealed) < length:
            raise BackupIntegrityError(f"{self._name} is truncated.")
        try:
            plaintext = self._cipher.decrypt(_nonce(self._index, is_last), sealed, self._header)
        except InvalidTag:
            raise BackupIntegrityError(
                f"{self._name} is corrupted or was tampered with (chunk {self._index} "
                "fails authentication)."
            ) from None
        self._index += 1
        self._buffer += plaintext
        if is_last:
            if self._raw.read(1):
                raise BackupIntegrityError(f"{self._name} has data after its last chunk.")
            self._done = True

    def read(self, size: int = -1) -> bytes:
        while not self._done and (size < 0 or len(self._buffer) < size):
            self._next_chunk()
        if size < 0 or size >= len(self._buffer):
            out = bytes(self._buffer)
            self._buffer.clear()
        else:
            out = bytes(self._buffer[:size])
            del self._buffer[:size]
        return out


def _read_exactly(raw: BinaryIO, size: int) -> bytes:
    parts = []
    remaining = size
    while remaining > 0:
        part = raw.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)
