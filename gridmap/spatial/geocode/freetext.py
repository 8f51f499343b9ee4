"""Places named inside free text: every gazetteer key in a sentence, by its characters or by its sound.

"科巷新寓3栋楼下垃圾堆了好几天" names 科巷新寓3号楼; "南京图书官门口" names 南京图书馆 by sound. Two Aho-Corasick
automata (pyahocorasick, in C) find every key of the gazetteer in one pass over the text: one over the keys'
characters, one over their sound (:mod:`.sound`, same length as the characters, so a hit is a span of the text).
Choosing among the hits, and refusing, is the gazetteer's work; this module only finds them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import ahocorasick

from gridmap.spatial.geocode.sound import sound

_HAN = re.compile(r"[\u4e00-\u9fff]")
MIN_KEY = 3  # a two-character key (厕所, 超市) inside a sentence names no one place
MIN_SOUND_KEY = 4  # by sound, a key needs more characters to stay unlikely by chance


@dataclass(frozen=True)
class Hit:
    """A key found in a text: ``text[start:end]`` is the key, or sounds like it with ``mismatches`` others."""

    start: int
    end: int
    key: str
    mismatches: int


def _han(text: str) -> int:
    return len(_HAN.findall(text))


def allowed_mismatches(key: str) -> int:
    """How many characters of ``key`` may be other same-sound characters: one, two from eight Han characters."""
    return 2 if _han(key) >= 8 else 1


class TextFinder:
    """Every key in a text, by characters or by sound."""

    def __init__(self, keys: Iterable[str]) -> None:
        """Index ``keys`` (normal form) that can name a place inside a sentence: two Han characters or more."""
        self._chars = ahocorasick.Automaton()
        self._sounds = ahocorasick.Automaton()
        by_sound: dict[str, list[str]] = {}
        for key in keys:
            if len(key) < MIN_KEY or _han(key) < 2:
                continue  # 3号楼 alone, or a two-letter name, is no place in a sentence
            self._chars.add_word(key, key)
            if len(key) >= MIN_SOUND_KEY and _han(key) >= 3:
                by_sound.setdefault(sound(key), []).append(key)
        for spoken, same in by_sound.items():
            self._sounds.add_word(spoken, tuple(same))
        self._has_chars = len(self._chars) > 0
        self._has_sounds = len(self._sounds) > 0
        if self._has_chars:
            self._chars.make_automaton()
        if self._has_sounds:
            self._sounds.make_automaton()

    def find(self, text: str) -> list[Hit]:
        """Hits in normalised ``text``: exact ones, then same-sound ones within :func:`allowed_mismatches`."""
        hits: list[Hit] = []
        if self._has_chars:
            for end, key in self._chars.iter(text):
                hit = Hit(end + 1 - len(key), end + 1, key, 0)
                if _bounded(text, hit):
                    hits.append(hit)
        if self._has_sounds:
            for end, keys in self._sounds.iter(sound(text)):
                start = end + 1 - len(keys[0])
                span = text[start : end + 1]
                for key in keys:
                    wrong = sum(a != b for a, b in zip(span, key, strict=True))
                    if 0 < wrong <= allowed_mismatches(key):
                        hit = Hit(start, end + 1, key, wrong)
                        if _bounded(text, hit):
                            hits.append(hit)
        return hits


def _bounded(text: str, hit: Hit) -> bool:
    """A key does not begin or end inside a number of the text (3号楼 in 13号楼, 中山路1号 in 中山路11号)."""
    if hit.key[0].isdigit() and hit.start > 0 and text[hit.start - 1].isdigit():
        return False
    return not (hit.key[-1].isdigit() and hit.end < len(text) and text[hit.end].isdigit())
