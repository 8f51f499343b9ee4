"""Hostile files made on the spot: small on disk, huge once decoded."""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int, height: int) -> bytes:
    """A valid grey PNG of ``width`` × ``height`` black pixels: a few hundred KB, ``width * height`` bytes decoded."""
    packer = zlib.compressobj(9)
    row = b"\x00" * (width + 1)  # filter byte, then the row
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def zip_bomb(path: Path, member: str, size: int) -> Path:
    """A zip holding ``member`` of ``size`` zero bytes (about 1,000:1): a 20 MB member is a 20 KB archive."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive, archive.open(member, "w") as f:
        block = b"\x00" * (1 << 20)
        for _ in range(size >> 20):
            f.write(block)
    return path
