"""Restore progress by bytes of table data, where the archive gives the sizes.

Counting TOC entries puts the bar near 90 % while the largest table is still loading (a big
table is one entry among hundreds). A custom archive with data offsets gives each data block's
size (the distance to the next block); a directory archive gives each table's data file. Then
progress is the bytes of the table data whose entries pg_restore reported finished.
"""

from __future__ import annotations

import re
from pathlib import Path

from signer_tui.pgdump.types import OFFSET_POS_SET, ArchiveToc, DumpFormat, DumpInfo

_FINISHED = re.compile(r"^pg_restore: finished item (\d+) ")
_SERIAL_DATA = re.compile(r'^pg_restore: processing data for table "(?:([^"]+)\.)?([^"]+)"')


def data_sizes(info: DumpInfo, toc: ArchiveToc | None) -> dict[int, int] | None:
    """Bytes of each data entry (by dump id), or None when the archive does not tell."""
    if toc is None:
        return None
    data = [e for e in toc.entries if e.is_data]
    if not data:
        return None
    if info.format is DumpFormat.CUSTOM:
        placed = sorted(
            (e for e in data if e.data_state == OFFSET_POS_SET and e.data_offset is not None),
            key=lambda e: e.data_offset or 0,
        )
        if len(placed) != len(data):
            return None  # written to a pipe: no offsets
        ends = [e.data_offset or 0 for e in placed[1:]] + [info.size_bytes]
        return {
            e.dump_id: max(0, end - (e.data_offset or 0))
            for e, end in zip(placed, ends, strict=True)
        }
    if info.format is DumpFormat.DIRECTORY:
        sizes = {}
        for entry in data:
            if not entry.filename:
                return None
            base = Path(info.path) / entry.filename
            found = [
                p
                for p in (base, *(base.with_name(base.name + x) for x in (".gz", ".lz4", ".zst")))
                if p.is_file()
            ]
            # A compressed member counts by its compressed size: proportions, not bytes, matter.
            sizes[entry.dump_id] = found[0].stat().st_size if found else 0
        return sizes
    return None


class ByteProgress:
    """Feed pg_restore --verbose lines; read (done, total) in bytes of table data."""

    def __init__(self, toc: ArchiveToc, sizes: dict[int, int], *, parallel: bool) -> None:
        self.sizes = sizes
        self.total = sum(sizes.values())
        self.parallel = parallel
        self.done = 0
        self._finished: set[int] = set()
        self._current: int | None = None
        self._by_table = {
            (e.namespace or "", e.tag): e.dump_id for e in toc.entries if e.dump_id in sizes
        }

    def _finish(self, dump_id: int | None) -> None:
        if dump_id is not None and dump_id not in self._finished:
            self._finished.add(dump_id)
            self.done += self.sizes.get(dump_id, 0)

    def line(self, line: str) -> bool:
        """True when the line moved the count."""
        before = self.done
        if self.parallel:
            match = _FINISHED.match(line)
            if match:
                self._finish(int(match.group(1)))
        else:
            # Serially, a table's data is done when the next step starts.
            self._finish(self._current)
            self._current = None
            match = _SERIAL_DATA.match(line)
            if match:
                self._current = self._by_table.get((match.group(1) or "", match.group(2)))
        return self.done != before

    def shown(self) -> int:
        """Never 100 % before pg_restore has exited."""
        return min(self.done, max(self.total - 1, 0))
