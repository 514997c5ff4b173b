"""Reading a config file that may be hostile: bounded in bytes, aliases, size and depth.

PyYAML's safe loader is safe from code execution, not from exhaustion: a "billion laughs"
document of nine nested aliases expands to 10^9 nodes once anything walks it, 20,000 levels of
`[` overflow the recursive composer, `/dev/zero` or a FIFO never ends. Every limit here fails
in well under a second with one line that names the file and (where YAML has one) the line.
Duplicate keys are an error too: YAML says keys are unique, PyYAML silently keeps the last.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

# A real config is a few kilobytes; 1 MiB leaves room for comments and many profiles.
MAX_BYTES = 1024 * 1024
MAX_ALIASES = 100
# Nodes after expanding aliases: a billion-laughs document is refused before anything walks it.
MAX_EXPANDED_NODES = 100_000
MAX_DEPTH = 64


class YamlProblem(Exception):
    """One thing wrong with the file; `line` is 1-based, None when the file has no position."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def read_config_bytes(path: Path, limit: int = MAX_BYTES) -> str:
    """The file's text; YamlProblem for a non-regular file, an oversized one or bad UTF-8.

    FileNotFoundError and other OSErrors are left to the caller, which words them."""
    info = os.stat(path)  # follows symlinks: a link to a regular file is fine
    if not stat.S_ISREG(info.st_mode):
        raise YamlProblem(f"not a regular file ({_kind(info.st_mode)}): point --config at a file")
    if info.st_size > limit:
        raise YamlProblem(f"the file is {info.st_size} bytes; a config may be at most {limit}")
    # O_NONBLOCK: if the path was swapped for a FIFO after the stat, open must not wait.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise YamlProblem("not a regular file: point --config at a file")
        data = b""
        while len(data) <= limit:
            chunk = os.read(fd, limit + 1 - len(data))
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    if len(data) > limit:
        raise YamlProblem(f"the file is larger than {limit} bytes, the most a config may be")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise YamlProblem("not UTF-8 text", line) from None


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a file"


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that counts aliases and depth while composing and collects duplicate keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.aliases = 0
        self.depth = 0
        self.duplicates: list[YamlProblem] = []

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise YamlProblem(
                    f"more than {MAX_ALIASES} aliases (*name): refused as a possible alias bomb",
                    mark.line + 1,
                )
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise YamlProblem(f"nested deeper than {MAX_DEPTH} levels", mark.line + 1)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def compose_mapping_node(self, anchor: Any) -> Any:
        node = super().compose_mapping_node(anchor)
        seen: dict[Any, int] = {}
        for key_node, _value in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key = (key_node.tag, key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                self.duplicates.append(
                    YamlProblem(
                        f"duplicate key '{key_node.value}' (first at line {seen[key]}): "
                        "YAML keys must be unique",
                        line,
                    )
                )
            else:
                seen[key] = line
        return node


def _expanded_size(node: yaml.Node, memo: dict[int, int], limit: int) -> int:
    """How many nodes the document has once aliases are expanded (stops counting at limit)."""
    known = memo.get(id(node))
    if known is not None:
        return known
    size = 1
    if isinstance(node, yaml.MappingNode):
        children: list[yaml.Node] = [n for pair in node.value for n in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    else:
        children = []
    for child in children:
        size += _expanded_size(child, memo, limit)
        if size > limit:
            break
    memo[id(node)] = size
    return size


def parse(text: str) -> tuple[yaml.Node | None, Any]:
    """(node tree for line numbers, data); YamlProblem (the first one) if refused."""
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if loader.duplicates:
            raise loader.duplicates[0]
        if node is None:
            return None, None
        if _expanded_size(node, {}, MAX_EXPANDED_NODES) > MAX_EXPANDED_NODES:
            raise YamlProblem(
                f"the document expands to more than {MAX_EXPANDED_NODES} values through "
                "aliases: refused as a possible alias bomb",
                node.start_mark.line + 1,
            )
        return node, loader.construct_document(node)
    except RecursionError:
        raise YamlProblem(f"nested deeper than {MAX_DEPTH} levels") from None
    finally:
        loader.dispose()
