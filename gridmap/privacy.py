"""How personal numbers are shown masked: one rule for every phone and ID number on every page, list and export.

A phone is masked by its digits (spaces, hyphens, brackets and a leading + are formatting; the country code
+86 / 0086 is not part of the number). At least four digits always stay hidden, and no more than the first three
and the last four are ever shown:

- 11 digits or more (mobiles, landlines with their area code): ``138****5678``, ``025****1234``;
- 7 to 10 digits (a local landline without its area code): the last four only (``****1234``; 7 digits: the last
  three);
- 5 or 6 digits (a short number): the last two only (``****12``; 5 digits: the last one); fewer: nothing.

An office (public) phone is not personal data: the callers show it as it is, without this module.
"""

from __future__ import annotations

import re

_NOT_DIGIT = re.compile(r"\D")
_CHINA = re.compile(r"^\s*(?:\+|00)86")  # +86 138…, 0086 138…
HIDDEN_AT_LEAST = 4


def national_digits(value: str) -> str:
    """The digits of a phone number without a Chinese country code (+86, 0086, or 86 before a mobile)."""
    digits = _NOT_DIGIT.sub("", _CHINA.sub("", value))
    if len(digits) == 13 and digits.startswith("861"):  # 86 138 1234 5678 written without + or 00
        digits = digits[2:]
    return digits


def mask_phone(value: str | None) -> str | None:
    """``138****5678``: a phone as anyone without the right to the whole number may see it (see the module)."""
    if value is None or not value.strip():
        return None
    digits = national_digits(value)
    n = len(digits)
    if n == 0:
        return "*" * HIDDEN_AT_LEAST
    if n >= 11:
        return digits[:3] + "*" * (n - 7) + digits[-4:]
    shown = min(4 if n >= 7 else 2, max(0, n - HIDDEN_AT_LEAST))
    return "*" * (n - shown) + (digits[-shown:] if shown else "")


def mask_id_number(value: str | None) -> str | None:
    """``3201**********123X``: an ID number's first four (the 市) and last four characters."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) < 12:  # not an 18-character 身份证号 (those are refused on input): show nothing of it
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]
