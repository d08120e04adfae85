"""A tiny PNG reader for the icon checks: header fields and RGBA pixels, standard library only."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples per pixel


@dataclass(frozen=True)
class Png:
    width: int
    height: int
    bit_depth: int
    colour_type: int
    rows: list[bytes]  # unfiltered scanlines

    def rgba(self, x: int, y: int) -> tuple[int, int, int, int]:
        """The pixel at (x, y) as RGBA; only 8-bit RGB and RGBA images are supported."""
        assert self.bit_depth == 8 and self.colour_type in (2, 6), "only 8-bit RGB(A) icons are read"
        n = CHANNELS[self.colour_type]
        px = self.rows[y][x * n:(x + 1) * n]
        return (px[0], px[1], px[2], px[3] if n == 4 else 255)


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data.startswith(SIGNATURE), "not a PNG"
    chunks, pos = [], len(SIGNATURE)
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        chunks.append((kind, body))
        pos += 12 + length
    return chunks


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def read_png(data: bytes) -> Png:
    """Parse the IHDR and undo the scanline filters of a non-interlaced PNG."""
    chunks = _chunks(data)
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert interlace == 0, "interlaced PNGs are not read"
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    bpp = max(1, CHANNELS[colour] * depth // 8)
    stride = (width * CHANNELS[colour] * depth + 7) // 8
    rows: list[bytes] = []
    previous = bytes(stride)
    for y in range(height):
        line = raw[y * (stride + 1):(y + 1) * (stride + 1)]
        kind, cur = line[0], bytearray(line[1:])
        for i in range(stride):
            left = cur[i - bpp] if i >= bpp else 0
            up, up_left = previous[i], previous[i - bpp] if i >= bpp else 0
            predictor = [0, left, up, (left + up) // 2, _paeth(left, up, up_left)][kind]
            cur[i] = (cur[i] + predictor) & 0xFF
        rows.append(bytes(cur))
        previous = bytes(cur)
    return Png(width, height, depth, colour, rows)
