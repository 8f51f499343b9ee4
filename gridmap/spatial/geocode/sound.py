"""The sound of Chinese text, one character per character: same-sound characters (馆/官) compare equal.

A pinyin input method offers every character of a syllable, so a mistyped name usually has the right sound and
another character. Each Han character becomes one private-use character standing for its toneless syllable
(pypinyin's first reading); every other character stays as it is. The result has the length of the text, so a
match found in the sound of a text is a span of the text itself, and ``str.translate`` makes it as fast as C.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from pypinyin.pinyin_dict import pinyin_dict

_PRIVATE_USE = 0xF0000  # supplementary private-use plane: never in an address


def _toneless(reading: str) -> str:
    # ǚ → u + marks → u: lü/lu merge, which a tolerant comparison can afford
    return "".join(c for c in unicodedata.normalize("NFD", reading) if not unicodedata.combining(c))


@lru_cache(maxsize=1)
def sound_table() -> dict[int, str]:
    """``str.translate`` table: code point of a Han character → the character of its syllable."""
    syllables: dict[str, str] = {}
    table: dict[int, str] = {}
    for point, readings in pinyin_dict.items():
        syllable = _toneless(readings.split(",")[0])
        table[point] = syllables.setdefault(syllable, chr(_PRIVATE_USE + len(syllables)))
    return table


def sound(text: str) -> str:
    """``text`` with each Han character replaced by its syllable's character (same length as ``text``)."""
    return text.translate(sound_table())
