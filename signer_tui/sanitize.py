"""The one cleaning function for text that came from outside (network, database, files).

Anything an operator's terminal or a Markdown export will render passes through `clean`:
* whole escape sequences go (CSI `ESC[2J`, OSC `ESC]52;...BEL` clipboard writes, DCS/APC/PM
  strings, two-byte ESC forms and their 8-bit C1 spellings), not just the ESC byte, so no
  `[2J` debris is left to confuse a reader;
* every other C0/C1 control and DEL;
* bidi embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069), the directional
  marks U+200E/U+200F/U+061C, and the line/paragraph separators U+2028/U+2029, which can make
  text *read* differently from what it is (Trojan Source) or break a line where none was sent.
Newlines and tabs survive only with `keep_newlines=True` (multi-line raw evidence).
"""

from __future__ import annotations

import re

# String-type sequences end at BEL or ST (ESC \ or 8-bit 0x9c); an unterminated one runs to
# the end of the text, which is what a terminal would swallow too.
_STRING_SEQ = r"(?:\x1b[\]P^_X]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c|$)"
_CSI = r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
_TWO_BYTE = r"\x1b[ -/]*[0-~]?"
_SEQUENCES = re.compile(f"{_STRING_SEQ}|{_CSI}|{_TWO_BYTE}")

_BIDI_AND_SEPARATORS = "\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u2028\u2029"
_UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI_AND_SEPARATORS}]")
_UNSAFE_ONE_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI_AND_SEPARATORS}]")
_NEWLINES = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")


def clean(text: str, limit: int | None = None, *, keep_newlines: bool = True) -> str:
    """`text` without escape sequences, controls or bidi/separator characters, cut at `limit`."""
    cleaned = _SEQUENCES.sub("", text)
    if keep_newlines:
        cleaned = _UNSAFE.sub("", cleaned.replace("\r\n", "\n"))
    else:
        # A label must stay one line: a newline becomes a space, not a join of two words.
        cleaned = _UNSAFE_ONE_LINE.sub("", _NEWLINES.sub(" ", cleaned))
    if limit is not None and len(cleaned) > limit:
        cleaned = cleaned[:limit] + f"… [{len(cleaned) - limit} more characters]"
    return cleaned


def clean_line(text: str, limit: int | None = None) -> str:
    """`clean` for one-line values (labels, names, versions): newlines become spaces."""
    return clean(text, limit, keep_newlines=False)


def is_clean(text: str) -> bool:
    """True when `clean` would change nothing (tests and the config's URL check use it)."""
    return clean(text) == text
