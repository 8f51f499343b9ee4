"""The sound of Chinese text, one character per character: same-sound characters (馆/官) compare equal.

A pinyin input method offers every character of a syllable, so a mistyped name usually has the right sound and
another character. Each Han character becomes one private-use character standing for its toneless syllable
(pypinyin's first reading); every other character stays as it is. The result has the length of the text, so a
match found in the sound of a text is a span of the text itself, and ``str.translate`` makes it as fast as C.
A character of several readings (大: da, dai, tai) also gives the sounds with one of its other readings, because
the input method offers it under each of them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from functools import lru_cache

from pypinyin.pinyin_dict import pinyin_dict

_PRIVATE_USE = 0xF0000  # supplementary private-use plane: never in an address


def _toneless(reading: str) -> str:
    # ǚ → u + marks → u: lü/lu merge, which a tolerant comparison can afford
    return "".join(c for c in unicodedata.normalize("NFD", reading) if not unicodedata.combining(c))


@lru_cache(maxsize=1)
def _tables() -> tuple[dict[int, str], dict[str, tuple[str, ...]]]:
    syllables: dict[str, str] = {}
    first: dict[int, str] = {}
    others: dict[str, tuple[str, ...]] = {}
    for point, readings in pinyin_dict.items():
        codes = list(dict.fromkeys(_toneless(r) for r in readings.split(",")))
        chars = [syllables.setdefault(s, chr(_PRIVATE_USE + len(syllables))) for s in codes]
        first[point] = chars[0]
        if len(chars) > 1:
            others[chr(point)] = tuple(chars[1:])
    return first, others


def sound(text: str) -> str:
    """``text`` with each Han character replaced by its first syllable's character (same length as ``text``)."""
    return text.translate(_tables()[0])


def sound_variants(text: str) -> Iterator[str]:
    """:func:`sound` of ``text``, then the same with one character of several readings read another way."""
    first, others = _tables()
    spoken = text.translate(first)
    yield spoken
    for i, ch in enumerate(text):
        for other in others.get(ch, ()):
            yield spoken[:i] + other + spoken[i + 1 :]
