"""The one cleaning function: whole escape sequences, controls, bidi and separators go;
the presenters (text report, timeline Markdown) apply it as a last line of defence."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signer_tui.model import Finding, Status, clean_text
from signer_tui.sanitize import clean, clean_line, is_clean
from signer_tui.timeline import Timeline

UNSAFE = set(
    [chr(c) for c in range(0x20) if c not in (0x09, 0x0A)]
    + [chr(c) for c in range(0x7F, 0xA0)]
    + [chr(c) for c in range(0x202A, 0x202F)]
    + [chr(c) for c in range(0x2066, 0x206A)]
    + ["\u200e", "\u200f", "\u061c", "\u2028", "\u2029"]
)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("a\x1b[2Jb", "ab"),
        ("a\x1b[38;5;196mred\x1b[0m", "ared"),
        ("x\x1b]52;c;cHduZWQ=\x07y", "xy"),  # OSC 52: write the clipboard
        ("x\x1b]0;title\x1b\\y", "xy"),  # OSC ended by ST
        ("x\x1bPq#0;2;0;0;0#0~~@@\x1b\\y", "xy"),  # DCS (sixel)
        ("x\x9b31my", "xy"),  # 8-bit CSI
        ("x\x1b(By", "xy"),  # charset designation
        ("x\x1bcy", "xy"),  # RIS: reset the terminal
        ("gnp\u202e.exe", "gnp.exe"),
        ("a\u2066b\u2069c\u200fd\u061ce", "abcde"),
        ("line\u2028two\u2029", "linetwo"),
        ("tab\tand\nnewline", "tab\tand\nnewline"),
        ("bell\x07 del\x7f nul\x00", "bell del nul"),
        ("unterminated \x1b]52;c;AAAA", "unterminated "),
    ],
)
def test_clean(raw: str, shown: str) -> None:
    assert clean(raw) == shown
    assert clean_text(raw) == shown


def test_clean_line_keeps_one_line() -> None:
    assert clean_line("two\nlines\r\nand\u2028more") == "two lines and more"


@given(st.text())
def test_nothing_unsafe_survives(text: str) -> None:
    cleaned = clean(text)
    assert not UNSAFE & set(cleaned)
    assert is_clean(cleaned)
    assert "\n" not in clean_line(text)


def test_limit_still_applies() -> None:
    assert clean("x" * 20, 5) == "xxxxx… [15 more characters]"


def test_timeline_markdown_is_clean() -> None:
    timeline = Timeline()
    now = datetime.now(UTC)
    finding = Finding("key.node", Status.CRIT, "label\x1b[2J\u202eevil\nsecond | pipe")
    timeline.observe("main\u2028", [finding], now)
    markdown = timeline.to_markdown()
    assert not UNSAFE & set(markdown.replace("\n", ""))
    row = markdown.splitlines()[-1]
    assert "labelevil second \\| pipe" in row
