"""Photos of a request: checked (JPEG, PNG or WebP within a size limit), re-encoded without metadata, kept on disk.

A phone photo carries EXIF: the reporter's GPS position, the phone, the time. Re-encoding keeps the pixels (turned
upright per the EXIF orientation, the longer side at most 2,048 px) and drops the rest. Files are named by their
content hash and written to a temporary name first, so a failed upload leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import io
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


def clean_photo(data: bytes, *, max_bytes: int) -> tuple[bytes, str]:
    """The photo re-encoded without metadata, and its file extension; :class:`InvalidInput` if it is not one."""
    if len(data) > max_bytes:
        raise TooLarge(f"photo is {len(data) / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.1f} MB")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            probe.verify()
        image = Image.open(io.BytesIO(data))
        kind = image.format or ""
        if kind not in FORMATS:
            raise InvalidInput(f"photo is {kind or 'not an image'}; send a JPEG, PNG or WebP image")
        upright = ImageOps.exif_transpose(image)
        upright.thumbnail((MAX_SIDE, MAX_SIDE))
        if kind == "JPEG" and upright.mode not in ("RGB", "L"):
            upright = upright.convert("RGB")
        out = io.BytesIO()
        upright.save(out, format=kind, **({"quality": 85} if kind != "PNG" else {}))
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
