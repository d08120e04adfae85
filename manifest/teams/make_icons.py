"""Rebuild the Teams icons (color.png 192x192, outline.png 32x32): `python manifest/teams/make_icons.py`.

Standard library only (zlib + struct) so the icons can be rebuilt without Pillow. The glyph is a question
mark drawn from circles and capsules and supersampled for smooth edges; the outline icon is white on a
transparent background, as Teams requires.
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ACCENT = (0x4F, 0x46, 0xE5)  # keep in step with accentColor in manifest.json
WHITE = (0xFF, 0xFF, 0xFF)
SUBSAMPLES = 4


def _capsule(px: float, py: float, ax: float, ay: float, bx: float, by: float) -> float:
    """Distance from (px, py) to the segment a-b."""
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def in_glyph(x: float, y: float, stroke: float) -> bool:
    """Whether the unit-square point (x, y), y pointing down, is inside the question mark."""
    cx, cy, radius = 0.5, 0.36, 0.17
    ring = abs(math.hypot(x - cx, y - cy) - radius) <= stroke
    angle = math.degrees(math.atan2(cy - y, x - cx))  # counter-clockwise from east, y up
    if ring and not -180.0 < angle < -90.0:  # the ring without its lower-left quarter
        return True
    if math.hypot(x - (cx - radius), y - cy) <= stroke:  # round cap at the hook's open end
        return True
    if _capsule(x, y, cx, cy + radius, cx, 0.62) <= stroke:  # the stem
        return True
    return math.hypot(x - cx, y - 0.77) <= stroke * 1.25  # the dot


def coverage(px: int, py: int, size: int, stroke: float) -> float:
    """Fraction of pixel (px, py) covered by the glyph."""
    hits = 0
    for sy in range(SUBSAMPLES):
        for sx in range(SUBSAMPLES):
            x = (px + (sx + 0.5) / SUBSAMPLES) / size
            y = (py + (sy + 0.5) / SUBSAMPLES) / size
            hits += in_glyph(x, y, stroke)
    return hits / SUBSAMPLES**2


def color_icon(size: int = 192) -> list[bytes]:
    """White glyph on an accent background, opaque: the full-colour icon."""
    rows = []
    for py in range(size):
        row = bytearray()
        for px in range(size):
            a = coverage(px, py, size, stroke=0.055)
            row += bytes(round(b + (w - b) * a) for b, w in zip(ACCENT, WHITE, strict=True)) + b"\xff"
        rows.append(bytes(row))
    return rows


def outline_icon(size: int = 32) -> list[bytes]:
    """White glyph, transparent elsewhere: the outline icon (only white and transparency allowed)."""
    rows = []
    for py in range(size):
        row = bytearray()
        for px in range(size):
            row += bytes(WHITE) + bytes([round(255 * coverage(px, py, size, stroke=0.075))])
        rows.append(bytes(row))
    return rows


def png(rows: list[bytes]) -> bytes:
    """Encode RGBA rows as a PNG (8-bit, colour type 6, filter 0 on every row)."""
    height, width = len(rows), len(rows[0]) // 4

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def main() -> None:
    (HERE / "color.png").write_bytes(png(color_icon()))
    (HERE / "outline.png").write_bytes(png(outline_icon()))


if __name__ == "__main__":
    main()
