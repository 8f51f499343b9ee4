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

from gridmap.spatial.geocode.sound import sound_variants

_HAN = re.compile(r"[\u4e00-\u9fff]")
_LATIN = re.compile(r"[a-z]")
MIN_KEY = 3  # a two-character key (厕所, 超市) inside a sentence names no one place
MIN_LATIN = 4  # a name with four letters or more (dior, daimlertower) is searched for as a whole word


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
    """How many characters of ``key`` may be other same-sound characters: one, two from eight Han characters.

    The other characters must be the same: three Han characters, or two and three letters (望京soho), at least.
    """
    han, latin = _han(key), len(_LATIN.findall(key))
    if han >= 8:
        return 2
    return 1 if han >= 3 or (han >= 2 and latin >= 3) else 0


class TextFinder:
    """Every key in a text, by characters or by sound."""

    def __init__(self, keys: Iterable[str]) -> None:
        """Index ``keys`` (normal form) that can name a place inside a sentence.

        Three characters with two Han ones or more (3号楼 alone is no place in a sentence), or four letters.
        """
        self._chars = ahocorasick.Automaton()
        self._sounds = ahocorasick.Automaton()
        by_sound: dict[str, set[str]] = {}
        for key in keys:
            latin = len(_LATIN.findall(key)) >= MIN_LATIN
            if not latin and (len(key) < MIN_KEY or _han(key) < 2):
                continue
            self._chars.add_word(key, key)
            if allowed_mismatches(key):
                for spoken in sound_variants(key):
                    by_sound.setdefault(spoken, set()).add(key)
        for spoken, same in by_sound.items():
            self._sounds.add_word(spoken, tuple(sorted(same)))
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
            seen: set[tuple[int, str]] = set()
            for spoken in sound_variants(text):
                for end, keys in self._sounds.iter(spoken):
                    start = end + 1 - len(keys[0])
                    span = text[start : end + 1]
                    for key in keys:
                        wrong = sum(a != b for a, b in zip(span, key, strict=True))
                        if 0 < wrong <= allowed_mismatches(key) and (start, key) not in seen:
                            seen.add((start, key))
                            hit = Hit(start, end + 1, key, wrong)
                            if _bounded(text, hit):
                                hits.append(hit)
        return hits


def _bounded(text: str, hit: Hit) -> bool:
    """A key does not begin or end inside a number or word of the text (3号楼 in 13号楼, tower in towers)."""
    before = text[hit.start - 1] if hit.start > 0 else ""
    after = text[hit.end] if hit.end < len(text) else ""
    for edge, neighbour in ((hit.key[0], before), (hit.key[-1], after)):
        if edge.isdigit() and neighbour.isdigit():
            return False
        if edge.isascii() and edge.isalpha() and neighbour.isascii() and neighbour.isalnum():
            return False
    return True
