"""SVG screenshots as PNG, for looking at them (`python3 -m tests.tui.svg_png screenshots/*.svg`).

Textual's SVG asks for Fira Code and relies on `textLength` to keep cells aligned; cairosvg
honours neither, and its fallback font is proportional, which runs "UNKNOWN" into the next
column. Substituting an installed monospace font shows the cells as a terminal does.
"""

from __future__ import annotations

import sys
from pathlib import Path

MONO = "DejaVu Sans Mono"


def to_png(svg: Path, png: Path | None = None, width: int = 1400) -> Path:
    import cairosvg  # type: ignore[import-untyped]

    text = svg.read_text(encoding="utf-8").replace("Fira Code, monospace", MONO)
    target = png or svg.with_suffix(".png")
    cairosvg.svg2png(bytestring=text.encode(), write_to=str(target), output_width=width)
    return target


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(to_png(Path(name)))
