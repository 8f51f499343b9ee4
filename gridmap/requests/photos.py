"""Photos of a request: checked (JPEG, PNG or WebP within a size limit), re-encoded without metadata, kept on disk.

A small file can hold a huge image (a 0.5 MB PNG of 13,000 × 13,000 px decodes to 500 MB): the pixel count is read
from the header and checked against its limit before any pixel is decoded; JPEGs are decoded at a reduced scale.

A phone photo carries EXIF: the reporter's GPS position, the phone, the time. Re-encoding keeps the pixels (turned
upright per the EXIF orientation, the longer side at most 2,048 px) and drops the rest. Files are named by their
content hash and written to a temporary name first, so a failed upload leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from gridmap.errors import InvalidInput, TooLarge

FORMATS = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png"), "WEBP": ("webp", "image/webp")}
MEDIA_TYPES = dict(FORMATS.values())
MAX_SIDE = 2048
MAX_PHOTOS = 9  # per request, as many as a WeChat post


def photo_folder(home: Path, request_id: int) -> Path:
    """Where a request's photos are kept under the state directory."""
    return home / "photos" / str(request_id)


def photo_url(request_id: int, name: str) -> str:
    """The API address of a request's photo, as listed in its ``photos``."""
    return f"/api/requests/{request_id}/photos/{name}"


def _too_many_pixels(width: int, height: int, max_pixels: int) -> TooLarge:
    return TooLarge(
        f"照片 {width}×{height} 像素({width * height / 1e6:.0f} 百万像素),超过上限 {max_pixels / 1e6:.0f} 百万像素,"
        f"请缩小后再传 / photo is {width}×{height} px ({width * height / 1e6:.0f} MP); the limit is "
        f"{max_pixels / 1e6:.0f} MP: scale it down"
    )


def _check_pixels(data: bytes, max_pixels: int) -> None:
    """Refuse an image whose header declares more than ``max_pixels`` (nothing is decoded to find out)."""
    try:
        with warnings.catch_warnings():  # Pillow warns above its own limit: ours is checked right here
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:  # reads the header only
                width, height = probe.size
    except Image.DecompressionBombError as exc:  # beyond Pillow's own ceiling: the size is in its message
        found = re.search(r"\((\d+) pixels\)", str(exc))
        pixels = int(found.group(1)) if found else 0
        raise TooLarge(
            f"照片像素过多({pixels / 1e6:.0f} 百万像素),超过上限 {max_pixels / 1e6:.0f} 百万像素 / photo has "
            f"{pixels / 1e6:.0f} MP; the limit is {max_pixels / 1e6:.0f} MP: scale it down"
        ) from exc
    if width * height > max_pixels:
        raise _too_many_pixels(width, height, max_pixels)


def clean_photo(data: bytes, *, max_bytes: int, max_pixels: int) -> tuple[bytes, str]:
    """The photo re-encoded without metadata, and its file extension; :class:`InvalidInput` if it is not one.

    :class:`TooLarge` if the file has more than ``max_bytes`` or its image more than ``max_pixels``.
    """
    if len(data) > max_bytes:
        raise TooLarge(
            f"照片 {len(data) / 1e6:.1f} MB,超过上限 {max_bytes / 1e6:.1f} MB / photo is {len(data) / 1e6:.1f} MB; "
            f"the limit is {max_bytes / 1e6:.1f} MB"
        )
    try:
        _check_pixels(data, max_pixels)
        with Image.open(io.BytesIO(data)) as probe:
            probe.verify()
        image = Image.open(io.BytesIO(data))
        kind = image.format or ""
        if kind not in FORMATS:
            raise InvalidInput(f"photo is {kind or 'not an image'}; send a JPEG, PNG or WebP image")
        image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # JPEG: decode at 1/2, 1/4 or 1/8 scale when that is enough
        upright = ImageOps.exif_transpose(image)
        upright.thumbnail((MAX_SIDE, MAX_SIDE))
        if kind == "JPEG" and upright.mode not in ("RGB", "L"):
            upright = upright.convert("RGB")
        out = io.BytesIO()
        upright.save(out, format=kind, **({"quality": 85} if kind != "PNG" else {}))
    except TooLarge:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError, ValueError) as exc:
        raise InvalidInput(f"photo could not be read as an image ({exc}); send a JPEG, PNG or WebP file") from exc
    return out.getvalue(), FORMATS[kind][0]


def store_photo(data: bytes, extension: str, folder: Path) -> str:
    """Write a cleaned photo under ``folder``; returns its file name (the same photo twice is one file)."""
    name = f"{hashlib.sha256(data).hexdigest()[:24]}.{extension}"
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{name}.part"
    temporary.write_bytes(data)
    temporary.replace(folder / name)
    return name
