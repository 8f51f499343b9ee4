"""The text encoding of an input file: UTF-8 where the format says so, else what the file or the user declares.

A Shapefile names its encoding in a ``.cpg`` file; without one GDAL reads the ``.dbf`` as ISO-8859-1 and Chinese
names (often GBK) would be stored garbled. GeoJSON is UTF-8 by definition (RFC 7946); a GBK one would fail deep
in the reader. Both are caught here, before reading, with a message saying what to do.
"""

from __future__ import annotations

import codecs
import zipfile
from pathlib import Path

from gridmap.errors import InvalidInput

GEOJSON = (".geojson", ".json")
_CHUNK = 1 << 20


def check_encoding(name: str) -> str:
    """``name`` as Python knows it (``gbk``, ``gb18030``, ``utf-8``…), or :class:`InvalidInput`."""
    try:
        return codecs.lookup(name).name
    except LookupError as exc:
        raise InvalidInput(f"未知编码 / unknown encoding {name!r}: use e.g. utf-8, gbk, gb18030, big5") from exc


def _looks_like(data: bytes) -> str:
    for guess in ("gbk", "gb18030", "big5"):
        try:
            data.decode(guess)
        except UnicodeDecodeError:
            continue
        return guess.upper()
    return "another encoding"


def _not_utf8(path: Path, data: bytes, fix: str) -> InvalidInput:
    guess = _looks_like(data)
    return InvalidInput(
        f"{path}: 文字不是 UTF-8 编码(看来是 {guess})/ the text is not UTF-8 (it looks like {guess}): {fix}"
    )


def require_utf8_geojson(path: Path, encoding: str | None) -> bytes | None:
    """Check a GeoJSON file is UTF-8; with ``encoding``, its text re-encoded as UTF-8 (else None: read as it is)."""
    if encoding is not None:
        try:
            return path.read_bytes().decode(check_encoding(encoding)).encode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"{path}: 不是 {encoding} 编码 / is not {encoding} text (byte {exc.start})") from exc
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                raise _not_utf8(
                    path,
                    chunk[exc.start : exc.start + 4096],
                    "GeoJSON must be UTF-8 (RFC 7946); convert it (iconv -f GBK -t UTF-8) or pass --encoding gbk",
                ) from exc
    return None


def _dbf_and_cpg(path: Path) -> tuple[bytes | None, bool]:
    """The ``.dbf`` bytes of a Shapefile (zipped or not) and whether a ``.cpg`` names its encoding."""
    if path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
                dbfs = [n for n in names if n.lower().endswith(".dbf")]
                cpg = any(n.lower().endswith(".cpg") for n in names)
                return (archive.read(dbfs[0]) if dbfs else None), cpg
        except (zipfile.BadZipFile, OSError):
            return None, False  # not a zip this module can judge: the reader says what is wrong
    if path.suffix.lower() == ".shp":
        dbf = next((p for p in (path.with_suffix(".dbf"), path.with_suffix(".DBF")) if p.exists()), None)
        cpg = path.with_suffix(".cpg").exists() or path.with_suffix(".CPG").exists()
        return (dbf.read_bytes() if dbf else None), cpg
    return None, False


def shapefile_encoding(path: Path, encoding: str | None) -> str | None:
    """The encoding to read a Shapefile's attributes with: ``encoding``, its ``.cpg``, or UTF-8 if its text is.

    Raises :class:`InvalidInput` for a Shapefile without ``.cpg`` whose text is not UTF-8 (and not plain ASCII).
    """
    if encoding is not None:
        return check_encoding(encoding)
    dbf, cpg = _dbf_and_cpg(path)
    if dbf is None or cpg or len(dbf) < 32:
        return None
    records = dbf[int.from_bytes(dbf[8:10], "little") :]  # the header's length is at bytes 8-9
    if all(b < 0x80 for b in records):
        return None
    try:
        records.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _not_utf8(
            path,
            records[exc.start : exc.start + 4096],
            "the Shapefile has no .cpg file naming its encoding; rerun with --encoding gbk "
            "(or the encoding it was made with), or add a .cpg file containing GBK",
        ) from exc
    return "utf-8"
