"""Normalise Chinese address text so that the many ways of writing one address compare equal.

全角→半角 (NFKC), Chinese numerals → digits, one spelling for building suffixes
(栋/幢/号楼/# → 号楼), no spaces or punctuation, and unit/floor/room suffixes split off.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
UNITS = {"十": 10, "百": 100, "千": 1000}
_NUMERAL_RUN = re.compile(r"[零〇一二两三四五六七八九十百千]+")
_PUNCT = re.compile(r"[\s\-_,，。.、:：;；'\"“”‘’()（）\[\]【】<>《》/\\|·]+")
_BUILDING = re.compile(r"(\d+)(?:号楼|号栋|号幢|栋|幢|#|＃)")
_TAIL = re.compile(r"(?:(?P<unit>\d+)单元)?(?:(?P<floor>\d+)(?:层|楼(?=\d)))?(?:(?P<room>\d+)(?:室|号房|房)?)?$")


def chinese_number(text: str) -> int:
    """Value of a run of Chinese numerals: 三百一十九 → 319, 二十六 → 26, 三一九 → 319."""
    if not any(ch in UNITS for ch in text):
        return int("".join(str(DIGITS[ch]) for ch in text))
    total, current = 0, 0
    for ch in text:
        if ch in DIGITS:
            current = DIGITS[ch]
        else:
            total += (current or 1) * UNITS[ch]
            current = 0
    return total + current


# What makes a numeral run a number: a unit of address after it (区, 号, 栋, 楼, 单元, 层, 室, 座, 期 …), maybe
# behind a letter (三十三b号), or a range up to another number (二十二-二十四号).
_ADDRESS_UNIT = r"[a-z]?(?:[号栋幢楼层室座期排条巷弄]|单元|区)"
_NUMBER_AFTER = re.compile(rf"\s*(?:{_ADDRESS_UNIT}|-\s*{_NUMERAL_RUN.pattern}{_ADDRESS_UNIT})")


def _numerals_to_digits(text: str, everywhere: bool = False) -> str:
    # A numeral run before a unit of address is a number; elsewhere (五台山, 六合) it is part of a name and
    # stays, unless ``everywhere`` (a name written with digits, 8km coffee, asked for in words).
    def repl(match: re.Match[str]) -> str:
        if everywhere or _NUMBER_AFTER.match(text, match.end()):
            return str(chinese_number(match.group()))
        return match.group()

    return _NUMERAL_RUN.sub(repl, text)


@dataclass(frozen=True)
class Parts:
    """A normalised address split into its core (what identifies a building) and unit/floor/room."""

    core: str
    unit: str | None = None
    floor: str | None = None
    room: str | None = None


def normalize(text: str, all_numerals: bool = False) -> str:
    """Canonical form of ``text`` (no admin prefixes stripped; see :mod:`.admin`).

    ``all_numerals`` turns every Chinese numeral into digits, not only those before a unit of address.
    """
    text = unicodedata.normalize("NFKC", text).lower().strip()
    text = _numerals_to_digits(text, everywhere=all_numerals)
    # 3号楼2-301 / 3#2-301: unit 2, room 301 (the dash goes with the punctuation below).
    text = re.sub(r"(号楼|栋|幢|#)\s*(\d+)\s*-\s*(\d+)\s*室?$", r"\1\2单元\3室", text)
    text = _PUNCT.sub("", text)
    return _BUILDING.sub(r"\1号楼", text)


def split_parts(text: str) -> Parts:
    """Split ``normalize``-d text into the building core and unit/floor/room suffixes."""
    idx = text.rfind("号楼")
    head, tail = (text[: idx + 2], text[idx + 2 :]) if idx >= 0 else (text, "")
    if tail:
        match = _TAIL.fullmatch(tail)
        if match:
            return Parts(core=head, unit=match.group("unit"), floor=match.group("floor"), room=match.group("room"))
    match = re.search(r"(?P<unit>\d+)单元.*$", text)
    if match:
        return Parts(core=text[: match.start()], unit=match.group("unit"))
    return Parts(core=text)


def numbers(text: str) -> tuple[str, ...]:
    """The digit runs of ``text``; two addresses with different numbers are different places."""
    return tuple(re.findall(r"\d+", text))
