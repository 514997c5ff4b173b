"""SIP-005 consensus (de)serialization of Clarity values, as the Stacks node returns them.

`decode(hex)` turns a `0x…` result of a read-only call or data-var read into typed values;
`encode(value)` is its inverse (the simulators use it to build faithful answers). The decoder
enforces the node's own limits (1 MiB, nesting depth 32), rejects trailing bytes, duplicate
tuple keys, bad names and non-ASCII in string-ascii, so a corrupted or hostile answer ends in
`ClarityDecodeError` instead of a wrong reading.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from signer_tui.model import clean_text
from signer_tui.sources.c32 import C32Error, decode_address, encode_address

MAX_VALUE_SIZE = 1024 * 1024
MAX_DEPTH = 32
MAX_NAME_LENGTH = 128
COMPRESSED_KEY_LENGTH = 33

# The initial value of the registry's `current-aggregate-pubkey`: a 1-byte 0x00 buffer.
PRE_DKG_KEY_HEX = "0x020000000100"

# Clarity's own name grammars (contract names; tuple keys are ClarityNames).
_CONTRACT_NAME = re.compile(r"[a-zA-Z]([a-zA-Z0-9]|[-_])*|__transient")
_CLARITY_NAME = re.compile(r"[a-zA-Z]([a-zA-Z0-9]|[-_!?+<>=/*])*|[-+=/*]|[<>]=?")
# string-ascii admits printable ASCII and ASCII whitespace (Rust's is_ascii_whitespace).
_ASCII_ALLOWED = frozenset(range(0x20, 0x7F)) | {0x09, 0x0A, 0x0C, 0x0D}

I128_MIN = -(1 << 127)
I128_MAX = (1 << 127) - 1
U128_MAX = (1 << 128) - 1


class ClarityDecodeError(ValueError):
    """The bytes are not one well-formed, in-limits Clarity value."""


class ClarityValue:
    """Base of the typed Clarity values. `repr_clarity()` gives Clarity literal syntax."""

    __slots__ = ()

    def repr_clarity(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class ClarityInt(ClarityValue):
    value: int

    def repr_clarity(self) -> str:
        return str(self.value)


@dataclass(frozen=True)
class ClarityUInt(ClarityValue):
    value: int

    def repr_clarity(self) -> str:
        return f"u{self.value}"


@dataclass(frozen=True)
class ClarityBuffer(ClarityValue):
    value: bytes

    def repr_clarity(self) -> str:
        return "0x" + self.value.hex()


@dataclass(frozen=True)
class ClarityBool(ClarityValue):
    value: bool

    def repr_clarity(self) -> str:
        return "true" if self.value else "false"


@dataclass(frozen=True)
class StandardPrincipal(ClarityValue):
    version: int
    hash160: bytes

    @property
    def address(self) -> str:
        return encode_address(self.version, self.hash160)

    def repr_clarity(self) -> str:
        return "'" + self.address

    @classmethod
    def from_address(cls, address: str) -> StandardPrincipal:
        try:
            version, hash160 = decode_address(address)
        except C32Error as exc:
            raise ClarityDecodeError(f"invalid principal {address!r}: {exc}") from exc
        return cls(version, hash160)


@dataclass(frozen=True)
class ContractPrincipal(ClarityValue):
    version: int
    hash160: bytes
    name: str

    @property
    def issuer(self) -> str:
        return encode_address(self.version, self.hash160)

    @property
    def address(self) -> str:
        """The contract id, e.g. `SM3VDX….sbtc-registry`."""
        return f"{self.issuer}.{self.name}"

    def repr_clarity(self) -> str:
        return "'" + self.address

    @classmethod
    def from_contract_id(cls, contract_id: str) -> ContractPrincipal:
        issuer, _, name = contract_id.partition(".")
        std = StandardPrincipal.from_address(issuer)
        _check_name(name, _CONTRACT_NAME, "contract name")
        return cls(std.version, std.hash160, name)


@dataclass(frozen=True)
class ClarityOk(ClarityValue):
    value: ClarityValue

    def repr_clarity(self) -> str:
        return f"(ok {self.value.repr_clarity()})"


@dataclass(frozen=True)
class ClarityErr(ClarityValue):
    value: ClarityValue

    def repr_clarity(self) -> str:
        return f"(err {self.value.repr_clarity()})"


@dataclass(frozen=True)
class ClarityNone(ClarityValue):
    def repr_clarity(self) -> str:
        return "none"


@dataclass(frozen=True)
class ClaritySome(ClarityValue):
    value: ClarityValue

    def repr_clarity(self) -> str:
        return f"(some {self.value.repr_clarity()})"


@dataclass(frozen=True)
class ClarityList(ClarityValue):
    items: tuple[ClarityValue, ...]

    def repr_clarity(self) -> str:
        return "(list" + "".join(" " + item.repr_clarity() for item in self.items) + ")"

    def __iter__(self) -> Iterator[ClarityValue]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class ClarityTuple(ClarityValue):
    """Fields in sorted (byte-wise) name order, as the node stores and serializes them."""

    fields: tuple[tuple[str, ClarityValue], ...]

    def __post_init__(self) -> None:
        names = [name for name, _ in self.fields]
        if len(set(names)) != len(names):
            raise ClarityDecodeError("duplicate tuple key")
        object.__setattr__(self, "fields", tuple(sorted(self.fields, key=lambda f: f[0])))

    @classmethod
    def of(cls, mapping: Mapping[str, ClarityValue]) -> ClarityTuple:
        return cls(tuple(mapping.items()))

    def as_dict(self) -> dict[str, ClarityValue]:
        return dict(self.fields)

    def __getitem__(self, name: str) -> ClarityValue:
        for key, value in self.fields:
            if key == name:
                return value
        raise KeyError(name)

    def repr_clarity(self) -> str:
        return "{" + ", ".join(f"{k}: {v.repr_clarity()}" for k, v in self.fields) + "}"


@dataclass(frozen=True)
class ClarityStringAscii(ClarityValue):
    value: str

    def repr_clarity(self) -> str:
        return _quote(self.value)


@dataclass(frozen=True)
class ClarityStringUtf8(ClarityValue):
    value: str

    def repr_clarity(self) -> str:
        return "u" + _quote(self.value)


def _quote(text: str) -> str:
    # json.dumps escapes quotes and C0 controls; clean_text drops the rest (C1, DEL), so
    # network-supplied strings are safe to put on a terminal.
    return clean_text(json.dumps(text, ensure_ascii=False))


class _Prefix:
    INT = 0x00
    UINT = 0x01
    BUFFER = 0x02
    TRUE = 0x03
    FALSE = 0x04
    STANDARD = 0x05
    CONTRACT = 0x06
    OK = 0x07
    ERR = 0x08
    NONE = 0x09
    SOME = 0x0A
    LIST = 0x0B
    TUPLE = 0x0C
    ASCII = 0x0D
    UTF8 = 0x0E


def _check_name(name: str, grammar: re.Pattern[str], what: str) -> None:
    if not 1 <= len(name) <= MAX_NAME_LENGTH or not grammar.fullmatch(name):
        raise ClarityDecodeError(f"invalid {what} {name[:MAX_NAME_LENGTH]!r}")


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, count: int, what: str) -> bytes:
        end = self.pos + count
        if end > len(self.data):
            raise ClarityDecodeError(
                f"truncated: {what} needs {count} bytes at offset {self.pos}, "
                f"{len(self.data) - self.pos} left"
            )
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def byte(self, what: str) -> int:
        return self.take(1, what)[0]

    def u32(self, what: str) -> int:
        value = int.from_bytes(self.take(4, what), "big")
        # Any declared length beyond the value-size limit is hostile or corrupt; fail early.
        if value > MAX_VALUE_SIZE:
            raise ClarityDecodeError(f"{what} {value} exceeds the 1 MiB value limit")
        return value

    def value(self, depth: int) -> ClarityValue:
        if depth > MAX_DEPTH:
            raise ClarityDecodeError(f"nesting deeper than {MAX_DEPTH}")
        offset = self.pos
        prefix = self.byte("type prefix")
        if prefix == _Prefix.INT:
            return ClarityInt(int.from_bytes(self.take(16, "int"), "big", signed=True))
        if prefix == _Prefix.UINT:
            return ClarityUInt(int.from_bytes(self.take(16, "uint"), "big"))
        if prefix == _Prefix.BUFFER:
            return ClarityBuffer(self.take(self.u32("buffer length"), "buffer"))
        if prefix == _Prefix.TRUE:
            return ClarityBool(True)
        if prefix == _Prefix.FALSE:
            return ClarityBool(False)
        if prefix == _Prefix.STANDARD:
            version, hash160 = self.principal()
            return StandardPrincipal(version, hash160)
        if prefix == _Prefix.CONTRACT:
            version, hash160 = self.principal()
            name = self.take(self.byte("contract name length"), "contract name")
            text = name.decode("ascii", errors="replace")
            _check_name(text, _CONTRACT_NAME, "contract name")
            return ContractPrincipal(version, hash160, text)
        if prefix == _Prefix.OK:
            return ClarityOk(self.value(depth + 1))
        if prefix == _Prefix.ERR:
            return ClarityErr(self.value(depth + 1))
        if prefix == _Prefix.NONE:
            return ClarityNone()
        if prefix == _Prefix.SOME:
            return ClaritySome(self.value(depth + 1))
        if prefix == _Prefix.LIST:
            count = self.u32("list length")
            return ClarityList(tuple(self.value(depth + 1) for _ in range(count)))
        if prefix == _Prefix.TUPLE:
            return self.tuple(depth)
        if prefix == _Prefix.ASCII:
            raw = self.take(self.u32("string-ascii length"), "string-ascii")
            bad = next((b for b in raw if b not in _ASCII_ALLOWED), None)
            if bad is not None:
                raise ClarityDecodeError(f"string-ascii contains byte 0x{bad:02x}")
            return ClarityStringAscii(raw.decode("ascii"))
        if prefix == _Prefix.UTF8:
            raw = self.take(self.u32("string-utf8 length"), "string-utf8")
            try:
                return ClarityStringUtf8(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise ClarityDecodeError(f"string-utf8 is not valid UTF-8: {exc.reason}") from exc
        raise ClarityDecodeError(f"unknown type prefix 0x{prefix:02x} at offset {offset}")

    def principal(self) -> tuple[int, bytes]:
        version = self.byte("principal version")
        if version >= 32:
            raise ClarityDecodeError(f"principal version {version} is out of range 0-31")
        return version, self.take(20, "principal hash160")

    def tuple(self, depth: int) -> ClarityTuple:
        count = self.u32("tuple field count")
        if count == 0:
            raise ClarityDecodeError("empty tuples are not allowed")
        fields: dict[str, ClarityValue] = {}
        for _ in range(count):
            raw_name = self.take(self.byte("tuple key length"), "tuple key")
            name = raw_name.decode("ascii", errors="replace")
            _check_name(name, _CLARITY_NAME, "tuple key")
            if name in fields:
                raise ClarityDecodeError(f"duplicate tuple key {name!r}")
            fields[name] = self.value(depth + 1)
        return ClarityTuple(tuple(fields.items()))


def _to_bytes(data: str | bytes) -> bytes:
    if isinstance(data, bytes):
        raw = data
    else:
        text = data.strip()
        if text[:2] in ("0x", "0X"):
            text = text[2:]
        if len(text) > 2 * MAX_VALUE_SIZE:
            raise ClarityDecodeError("value larger than the 1 MiB limit")
        try:
            raw = bytes.fromhex(text)
        except ValueError as exc:
            raise ClarityDecodeError("not a hex string") from exc
    if len(raw) > MAX_VALUE_SIZE:
        raise ClarityDecodeError("value larger than the 1 MiB limit")
    if not raw:
        raise ClarityDecodeError("empty value")
    return raw


def decode(data: str | bytes) -> ClarityValue:
    """Decode one serialized Clarity value (hex with optional `0x`, or raw bytes)."""
    reader = _Reader(_to_bytes(data))
    value = reader.value(1)
    if reader.pos != len(reader.data):
        raise ClarityDecodeError(f"{len(reader.data) - reader.pos} trailing bytes after the value")
    return value


def _u32(value: int) -> bytes:
    return value.to_bytes(4, "big")


def encode(value: ClarityValue) -> bytes:
    """Serialize a value in the consensus format (tuple fields in sorted name order)."""
    if isinstance(value, ClarityInt):
        if not I128_MIN <= value.value <= I128_MAX:
            raise ValueError("int out of i128 range")
        return bytes([_Prefix.INT]) + value.value.to_bytes(16, "big", signed=True)
    if isinstance(value, ClarityUInt):
        if not 0 <= value.value <= U128_MAX:
            raise ValueError("uint out of u128 range")
        return bytes([_Prefix.UINT]) + value.value.to_bytes(16, "big")
    if isinstance(value, ClarityBuffer):
        return bytes([_Prefix.BUFFER]) + _u32(len(value.value)) + value.value
    if isinstance(value, ClarityBool):
        return bytes([_Prefix.TRUE if value.value else _Prefix.FALSE])
    if isinstance(value, StandardPrincipal):
        return bytes([_Prefix.STANDARD, value.version]) + value.hash160
    if isinstance(value, ContractPrincipal):
        name = value.name.encode("ascii")
        return bytes([_Prefix.CONTRACT, value.version]) + value.hash160 + bytes([len(name)]) + name
    if isinstance(value, ClarityOk):
        return bytes([_Prefix.OK]) + encode(value.value)
    if isinstance(value, ClarityErr):
        return bytes([_Prefix.ERR]) + encode(value.value)
    if isinstance(value, ClarityNone):
        return bytes([_Prefix.NONE])
    if isinstance(value, ClaritySome):
        return bytes([_Prefix.SOME]) + encode(value.value)
    if isinstance(value, ClarityList):
        body = b"".join(encode(item) for item in value.items)
        return bytes([_Prefix.LIST]) + _u32(len(value.items)) + body
    if isinstance(value, ClarityTuple):
        parts = [bytes([_Prefix.TUPLE]) + _u32(len(value.fields))]
        for key, item in value.fields:
            raw_name = key.encode("ascii")
            parts.append(bytes([len(raw_name)]) + raw_name + encode(item))
        return b"".join(parts)
    if isinstance(value, ClarityStringAscii):
        raw = value.value.encode("ascii")
        return bytes([_Prefix.ASCII]) + _u32(len(raw)) + raw
    if isinstance(value, ClarityStringUtf8):
        raw = value.value.encode("utf-8")
        return bytes([_Prefix.UTF8]) + _u32(len(raw)) + raw
    raise TypeError(f"not a Clarity value: {type(value).__name__}")


def encode_hex(value: ClarityValue) -> str:
    """`0x`-prefixed hex, as the node writes Clarity values in JSON."""
    return "0x" + encode(value).hex()


def key_from_value(value: ClarityValue) -> bytes | None:
    """A registry aggregate key: a 33-byte compressed key, or None for the pre-DKG 0x00."""
    if not isinstance(value, ClarityBuffer):
        raise ClarityDecodeError(f"expected a buffer, got {value.repr_clarity()[:80]}")
    if value.value == b"\x00":
        return None
    if len(value.value) != COMPRESSED_KEY_LENGTH:
        raise ClarityDecodeError(
            f"aggregate key buffer is {len(value.value)} bytes, expected {COMPRESSED_KEY_LENGTH}"
        )
    if value.value[0] not in (2, 3):
        raise ClarityDecodeError(
            f"aggregate key starts with 0x{value.value[0]:02x}, not a compressed key (02/03)"
        )
    return value.value


def decode_aggregate_key(data: str | bytes) -> bytes | None:
    """Decode `get-current-aggregate-pubkey`: key bytes, or None before the first DKG."""
    return key_from_value(decode(data))
