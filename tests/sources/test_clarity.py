"""The Clarity decoder and c32check against the official vectors and wire-formats.md §2."""

from __future__ import annotations

import pytest

from signer_tui.sources.c32 import (
    MAINNET_MULTISIG,
    MAINNET_SINGLESIG,
    TESTNET_MULTISIG,
    TESTNET_SINGLESIG,
    C32Error,
    decode_address,
    encode_address,
    is_address,
    normalize_address,
)
from signer_tui.sources.clarity import (
    MAX_DEPTH,
    MAX_VALUE_SIZE,
    PRE_DKG_KEY_HEX,
    ClarityBool,
    ClarityBuffer,
    ClarityDecodeError,
    ClarityErr,
    ClarityInt,
    ClarityList,
    ClarityNone,
    ClarityOk,
    ClaritySome,
    ClarityStringAscii,
    ClarityStringUtf8,
    ClarityTuple,
    ClarityUInt,
    ClarityValue,
    ContractPrincipal,
    StandardPrincipal,
    decode,
    decode_aggregate_key,
    encode,
    encode_hex,
)

HASH = bytes.fromhex("11deadbeef11ababffff11deadbeef11ababffff")
INT1 = "0000000000000000000000000000000001"
MINUS1 = "00ffffffffffffffffffffffffffffffff"
REGISTRY_HEX = "0x0614f6decc7cfff2a413bd7cd4f53c25ad7fd1899acc0d736274632d7265676973747279"
MAINNET_DEPLOYER = "SM3VDXK3WZZSA84XXFKAFAF15NNZX32CTSG82JFQ4"

# SC clarity-types serialization.rs::test_vectors.
OFFICIAL_VECTORS: list[tuple[str, ClarityValue]] = [
    (INT1, ClarityInt(1)),
    (MINUS1, ClarityInt(-1)),
    ("0100000000000000000000000000000001", ClarityUInt(1)),
    ("0200000004deadbeef", ClarityBuffer(bytes.fromhex("deadbeef"))),
    ("03", ClarityBool(True)),
    ("04", ClarityBool(False)),
    ("050011deadbeef11ababffff11deadbeef11ababffff", StandardPrincipal(0, HASH)),
    ("060011deadbeef11ababffff11deadbeef11ababffff0461626364", ContractPrincipal(0, HASH, "abcd")),
    ("07" + MINUS1, ClarityOk(ClarityInt(-1))),
    ("08" + MINUS1, ClarityErr(ClarityInt(-1))),
    ("09", ClarityNone()),
    ("0a" + MINUS1, ClaritySome(ClarityInt(-1))),
    (
        "0b00000004"
        + INT1
        + "0000000000000000000000000000000002"
        + "0000000000000000000000000000000003"
        + "00fffffffffffffffffffffffffffffffc",
        ClarityList((ClarityInt(1), ClarityInt(2), ClarityInt(3), ClarityInt(-4))),
    ),
    (
        "0c000000020362617a0906666f6f62617203",
        ClarityTuple((("baz", ClarityNone()), ("foobar", ClarityBool(True)))),
    ),
]

# The worked examples computed for this project (wire-formats.md §2).
WORKED_EXAMPLES: list[tuple[str, ClarityValue, str]] = [
    ("0x0200000021" + "02" + "11" * 32, ClarityBuffer(bytes([2]) + b"\x11" * 32), "0x0211"),
    ("0x020000000100", ClarityBuffer(b"\x00"), "0x00"),
    ("0x0100000000000000000000000000000000", ClarityUInt(0), "u0"),
    ("0x080100000000000000000000000000000191", ClarityErr(ClarityUInt(401)), "(err u401)"),
    (
        "0x05160000000000000000000000000000000000000000",
        StandardPrincipal(22, bytes(20)),
        "'SP000000000000000000002Q6VF78",
    ),
    (
        REGISTRY_HEX,
        ContractPrincipal(
            20, bytes.fromhex("f6decc7cfff2a413bd7cd4f53c25ad7fd1899acc"), "sbtc-registry"
        ),
        f"'{MAINNET_DEPLOYER}.sbtc-registry",
    ),
    ("0x0a03", ClaritySome(ClarityBool(True)), "(some true)"),
    ("0x0d0000000568656c6c6f", ClarityStringAscii("hello"), '"hello"'),
    ("0x0e0000000668c3a96c6c6f", ClarityStringUtf8("héllo"), 'u"héllo"'),
    ("0x0703", ClarityOk(ClarityBool(True)), "(ok true)"),
]


@pytest.mark.parametrize(("hex_value", "expected"), OFFICIAL_VECTORS)
def test_official_vectors_decode_and_reencode(hex_value: str, expected: ClarityValue) -> None:
    assert decode(hex_value) == expected
    assert decode("0x" + hex_value) == expected
    assert decode(bytes.fromhex(hex_value)) == expected
    assert encode(expected).hex() == hex_value


@pytest.mark.parametrize(("hex_value", "expected", "literal"), WORKED_EXAMPLES)
def test_worked_examples(hex_value: str, expected: ClarityValue, literal: str) -> None:
    value = decode(hex_value)
    assert value == expected
    assert value.repr_clarity().startswith(literal)
    assert encode_hex(value) == hex_value


def test_aggregate_key_buffer_is_38_bytes() -> None:
    key = bytes([2]) + b"\x11" * 32
    raw = encode(ClarityBuffer(key))
    assert len(raw) == 38
    assert raw.hex().startswith("0200000021")


def test_principals_render_as_c32_addresses() -> None:
    registry = decode(REGISTRY_HEX)
    assert isinstance(registry, ContractPrincipal)
    assert registry.address == f"{MAINNET_DEPLOYER}.sbtc-registry"
    assert registry.issuer == MAINNET_DEPLOYER
    boot = decode("0x05160000000000000000000000000000000000000000")
    assert isinstance(boot, StandardPrincipal)
    assert boot.address == "SP000000000000000000002Q6VF78"
    assert ContractPrincipal.from_contract_id(f"{MAINNET_DEPLOYER}.sbtc-registry") == registry
    vector = decode("060011deadbeef11ababffff11deadbeef11ababffff0461626364")
    assert isinstance(vector, ContractPrincipal)
    assert vector.address.endswith(".abcd")
    assert decode_address(vector.issuer) == (0, HASH)


def test_tuple_fields_are_sorted_and_addressable() -> None:
    value = ClarityTuple.of({"foobar": ClarityBool(True), "baz": ClarityNone()})
    assert [name for name, _ in value.fields] == ["baz", "foobar"]
    assert encode(value).hex() == "0c000000020362617a0906666f6f62617203"
    # The decoder accepts any order (it re-sorts) but the values stay attached to their names.
    unsorted = decode("0c0000000206666f6f626172030362617a09")
    assert isinstance(unsorted, ClarityTuple)
    assert unsorted == value
    assert unsorted["foobar"] == ClarityBool(True)
    assert unsorted.as_dict() == {"baz": ClarityNone(), "foobar": ClarityBool(True)}
    assert value.repr_clarity() == "{baz: none, foobar: true}"


def test_integer_extremes_round_trip() -> None:
    for value in (ClarityInt(-(1 << 127)), ClarityInt((1 << 127) - 1), ClarityUInt((1 << 128) - 1)):
        assert decode(encode(value)) == value
    with pytest.raises(ValueError, match="range"):
        encode(ClarityInt(1 << 127))
    with pytest.raises(ValueError, match="range"):
        encode(ClarityUInt(-1))


def test_nested_values_round_trip() -> None:
    value = ClarityOk(
        ClarityTuple.of(
            {
                "keys": ClarityList((ClarityBuffer(b"\x02" * 33), ClarityBuffer(b"\x03" * 33))),
                "name": ClarityStringUtf8("signer ✓"),
                "who": ContractPrincipal.from_contract_id(f"{MAINNET_DEPLOYER}.sbtc-registry"),
                "maybe": ClaritySome(ClarityErr(ClarityUInt(7))),
            }
        )
    )
    assert decode(encode_hex(value)) == value


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("", "empty"),
        ("0x", "empty"),
        ("zz", "hex"),
        ("0x123", "hex"),
        ("0f", "unknown type prefix 0x0f"),
        ("ff", "unknown type prefix 0xff"),
        ("0300", "1 trailing bytes"),
        ("0x020000000100ff", "trailing"),
        ("00" + "ff" * 15, "truncated"),
        ("0200000004dead", "truncated"),
        ("0b00000002" + INT1, "truncated"),
        ("05" + "16" + "00" * 19, "truncated"),
        ("0a", "truncated"),
        ("05" + "20" + "00" * 20, "version 32"),
        ("0c00000000", "empty tuples"),
        ("0c000000020362617a090362617a03", "duplicate tuple key 'baz'"),
        ("0c000000010331617a09", "invalid tuple key"),
        ("0c0000000100" + "09", "invalid tuple key"),
        ("06" + "16" + "00" * 20 + "00", "invalid contract name"),
        ("06" + "16" + "00" * 20 + "03" + "612062", "invalid contract name"),
        ("0d000000026101", "string-ascii contains byte 0x01"),
        ("0d00000001c3", "string-ascii contains byte 0xc3"),
        ("0e00000001ff", "not valid UTF-8"),
        ("02ffffffff", "exceeds the 1 MiB"),
        ("0b00200000", "exceeds the 1 MiB"),
    ],
)
def test_malformed_values_are_rejected(data: str, message: str) -> None:
    with pytest.raises(ClarityDecodeError, match=message.replace("(", r"\(")):
        decode(data)


def test_string_ascii_accepts_whitespace() -> None:
    assert decode("0d00000004" + "09200a0d") == ClarityStringAscii("\t \n\r")


def test_display_of_hostile_strings_is_escaped() -> None:
    value = decode(encode(ClarityStringUtf8("\x1b[31mred\x9b")))
    assert value == ClarityStringUtf8("\x1b[31mred\x9b")
    shown = value.repr_clarity()
    assert "\x1b" not in shown
    assert "\x9b" not in shown
    assert "red" in shown


def _nested_some(levels: int) -> str:
    return "0a" * levels + "09"


def test_depth_limit() -> None:
    # The outermost value is at depth 1, so 31 wrappers around an atom is the deepest allowed.
    assert isinstance(decode(_nested_some(MAX_DEPTH - 1)), ClaritySome)
    with pytest.raises(ClarityDecodeError, match="nesting deeper than 32"):
        decode(_nested_some(MAX_DEPTH))
    with pytest.raises(ClarityDecodeError, match="nesting"):
        decode("0b00000001" * 40 + "09")


def test_size_limit() -> None:
    # A buffer exactly at 1 MiB in total fits; one byte more does not.
    payload = MAX_VALUE_SIZE - 5
    at_limit = bytes([2]) + payload.to_bytes(4, "big") + b"\x00" * payload
    value = decode(at_limit)
    assert isinstance(value, ClarityBuffer)
    assert len(value.value) == payload
    with pytest.raises(ClarityDecodeError, match="1 MiB"):
        decode(at_limit + b"\x00")
    with pytest.raises(ClarityDecodeError, match="1 MiB"):
        decode("0x" + (at_limit + b"\x00").hex())


def test_aggregate_key_helper() -> None:
    key = bytes([3]) + bytes(range(32))
    assert decode_aggregate_key(encode_hex(ClarityBuffer(key))) == key
    assert decode_aggregate_key(PRE_DKG_KEY_HEX) is None
    assert decode_aggregate_key("020000000100") is None
    with pytest.raises(ClarityDecodeError, match="buffer is 32 bytes"):
        decode_aggregate_key(encode_hex(ClarityBuffer(key[:32])))
    with pytest.raises(ClarityDecodeError, match="buffer is 1 bytes"):
        decode_aggregate_key("0x020000000101")
    with pytest.raises(ClarityDecodeError, match="expected a buffer"):
        decode_aggregate_key("0x0100000000000000000000000000000000")
    with pytest.raises(ClarityDecodeError, match="expected a buffer"):
        decode_aggregate_key("0x0a" + encode(ClarityBuffer(key)).hex())
    with pytest.raises(ClarityDecodeError, match="not a compressed key"):
        decode_aggregate_key(encode_hex(ClarityBuffer(bytes([4]) + key[1:])))
    with pytest.raises(ClarityDecodeError, match="trailing"):
        decode_aggregate_key(PRE_DKG_KEY_HEX + "00")


# -- c32check ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "hash_hex", "address"),
    [
        (MAINNET_SINGLESIG, "00" * 20, "SP000000000000000000002Q6VF78"),
        (MAINNET_MULTISIG, "f6decc7cfff2a413bd7cd4f53c25ad7fd1899acc", MAINNET_DEPLOYER),
        (TESTNET_SINGLESIG, "00" * 20, "ST000000000000000000002AMW42H"),
    ],
)
def test_c32_address_encoding(version: int, hash_hex: str, address: str) -> None:
    assert encode_address(version, bytes.fromhex(hash_hex)) == address
    assert decode_address(address) == (version, bytes.fromhex(hash_hex))


@pytest.mark.parametrize(
    "address",
    [
        MAINNET_DEPLOYER,
        "SNGWPN3XDAQE673MXYXF81016M50NHF5X5PWWM70",
        "SN3VMHXEN64ZZF71JQ5VESXDWTR301XTTXGF4J8F1",
        "SN69P7RZRKK8ERQCCABHT2JWKB2S4DHH9H74231T",
        "ST1F7QA2MDF17S807EPA36TSS8AMEFY4KA9TVGWXT",
        "ST2SBXRBJJTH7GV5J93HJ62W2NRRQ46XYBK92Y039",
        "SN3R84XZYA63QS28932XQF3G1J8R9PC3W76P9CSQS",
    ],
)
def test_documented_deployers_round_trip(address: str) -> None:
    version, hash160 = decode_address(address)
    assert version in (MAINNET_MULTISIG, TESTNET_MULTISIG, TESTNET_SINGLESIG)
    assert encode_address(version, hash160) == address
    assert is_address(address)


def test_c32_decoding_is_lenient_like_the_reference_but_normalises() -> None:
    assert normalize_address(MAINNET_DEPLOYER.lower()) == MAINNET_DEPLOYER
    assert normalize_address("SP0OOOOOOOOOOOOOOOOOOO2Q6VF78") == "SP000000000000000000002Q6VF78"


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("SM3VDXK3WZZSA84XXFKAFAF15NNZX32CTSG82JFQ5", "checksum"),
        ("SP3VDXK3WZZSA84XXFKAFAF15NNZX32CTSG82JFQ4", "checksum"),
        ("XM3VDXK3WZZSA84XXFKAFAF15NNZX32CTSG82JFQ4", "starts with 'S'"),
        ("SM3VDXK3WZZSA84XXFKAFAF15NNZX32CTSG82JFQU", "invalid c32 character 'U'"),
        ("SM3VDXK3WZZSA84XXFKAFAF15NNZX32CTSG82JF", "bytes"),
        ("SP", "starts with 'S'"),
        ("S!000000000000000000002Q6VF78", "version character"),
        ("SP0000000000000000000002Q6VF78", "bytes"),
    ],
)
def test_bad_addresses_are_rejected(address: str, message: str) -> None:
    with pytest.raises(C32Error, match=message):
        decode_address(address)
    assert not is_address(address)


def test_encode_address_rejects_bad_inputs() -> None:
    with pytest.raises(C32Error, match="out of range"):
        encode_address(32, bytes(20))
    with pytest.raises(C32Error, match="20 bytes"):
        encode_address(22, bytes(19))
