"""c32check Stacks addresses: (version, hash160) <-> `S<version char><c32 payload>`.

The payload is the base-32 rendering (Crockford-like alphabet) of hash160 + a 4-byte
double-SHA256 checksum, with one '0' per leading zero byte so that the byte length survives
the round trip. Used to render Clarity principals and to validate configured deployers.
"""

from __future__ import annotations

import hashlib

C32_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_C32_INDEX = {char: index for index, char in enumerate(C32_ALPHABET)}

# Address versions of the networks the console knows.
MAINNET_SINGLESIG = 22  # SP
MAINNET_MULTISIG = 20  # SM
TESTNET_SINGLESIG = 26  # ST
TESTNET_MULTISIG = 21  # SN

HASH160_LENGTH = 20
_CHECKSUM_LENGTH = 4


class C32Error(ValueError):
    """Not a well-formed c32check address."""


def c32_encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    digits: list[str] = []
    while number:
        number, digit = divmod(number, 32)
        digits.append(C32_ALPHABET[digit])
    leading_zero_bytes = len(data) - len(data.lstrip(b"\x00"))
    return "0" * leading_zero_bytes + "".join(reversed(digits))


def c32_normalize(text: str) -> str:
    # The reference implementations read O as 0 and I/L as 1, case-insensitively.
    return text.upper().replace("O", "0").replace("L", "1").replace("I", "1")


def c32_decode(text: str) -> bytes:
    text = c32_normalize(text)
    number = 0
    for char in text:
        digit = _C32_INDEX.get(char)
        if digit is None:
            raise C32Error(f"invalid c32 character {char!r}")
        number = number * 32 + digit
    leading_zero_chars = len(text) - len(text.lstrip("0"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\x00" * leading_zero_chars + body


def _checksum(version: int, payload: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(bytes([version]) + payload).digest()).digest()[:4]


def encode_address(version: int, hash160: bytes) -> str:
    """Render a (version, hash160) pair as a c32check address such as `SP000…2Q6VF78`."""
    if not 0 <= version < 32:
        raise C32Error(f"address version {version} is out of range 0-31")
    if len(hash160) != HASH160_LENGTH:
        raise C32Error(f"hash160 must be {HASH160_LENGTH} bytes, got {len(hash160)}")
    return "S" + C32_ALPHABET[version] + c32_encode(hash160 + _checksum(version, hash160))


def decode_address(address: str) -> tuple[int, bytes]:
    """Parse a standard-principal address back into (version, hash160), checking the checksum.

    Non-canonical spellings (lower case, O for 0, ...) are accepted as the reference decoders
    accept them; use `normalize_address` for the canonical form.
    """
    if len(address) < 3 or address[0] not in "Ss":
        raise C32Error("a Stacks address starts with 'S' and a version character")
    version_char = c32_normalize(address[1])
    if version_char not in _C32_INDEX:
        raise C32Error(f"invalid version character {address[1]!r}")
    version = _C32_INDEX[version_char]
    raw = c32_decode(address[2:])
    if len(raw) != HASH160_LENGTH + _CHECKSUM_LENGTH:
        raise C32Error(f"address decodes to {len(raw)} bytes, expected 24")
    hash160, checksum = raw[:HASH160_LENGTH], raw[HASH160_LENGTH:]
    if _checksum(version, hash160) != checksum:
        raise C32Error("address checksum mismatch")
    if encode_address(version, hash160) != "S" + version_char + c32_normalize(address[2:]):
        raise C32Error("address is not in canonical c32 form (extra leading zeros)")
    return version, hash160


def normalize_address(address: str) -> str:
    """The canonical spelling of a valid address (raises C32Error if it is not one)."""
    return encode_address(*decode_address(address))


def is_address(address: str) -> bool:
    try:
        decode_address(address)
    except C32Error:
        return False
    return True
