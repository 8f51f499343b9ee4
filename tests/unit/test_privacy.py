"""The one masking rule for phones and ID numbers (gridmap.privacy)."""

from __future__ import annotations

import re

import pytest

from gridmap.privacy import mask_id_number, mask_phone


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),  # an 11-digit mobile
        ("138 1234 5678", "138****5678"),
        ("138-1234-5678", "138****5678"),
        ("+86 138 1234 5678", "138****5678"),  # the country code is no part of the number
        ("+8613812345678", "138****5678"),
        ("0086-138-1234-5678", "138****5678"),
        ("8613812345678", "138****5678"),
        ("025-84561234", "025****1234"),  # a landline with its area code
        ("(025) 8456 1234", "025****1234"),
        ("0512-65123456", "051*****3456"),  # a four-digit area code
        ("+86 25 8456 1234", "******1234"),  # 10 digits without the area code's 0: the last four only
        ("8456-1234", "****1234"),  # a local number without its area code
        ("845-6123", "****123"),  # 7 digits: the last three
        ("123456", "****56"),  # short numbers: the last two
        ("12345", "****5"),  # 5 digits: four stay hidden
        ("1234", "****"),
        ("---", "****"),  # no digits at all: nothing to show
    ],
)
def test_phones_are_masked_by_one_rule(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


@pytest.mark.parametrize("empty", [None, "", "   "])
def test_no_phone_is_none(empty: str | None) -> None:
    assert mask_phone(empty) is None


@pytest.mark.parametrize(
    "phone", ["13812345678", "025-84561234", "84561234", "8456123", "123456", "12345", "+44 20 7946 0958", "0" * 30]
)
def test_at_most_three_leading_and_four_trailing_digits_show(phone: str) -> None:
    masked = mask_phone(phone)
    assert masked is not None
    shown = re.fullmatch(r"(\d*)(\**)(\d*)", masked)
    assert shown is not None
    lead, hidden, trail = shown.groups()
    assert (len(lead) <= 3, len(trail) <= 4, len(hidden) >= min(4, len(masked))) == (True, True, True)


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("32010219900101123X", "3201**********123X"),
        (" 320102199001011234 ", "3201**********1234"),
        ("12345", "*****"),  # not an ID number: nothing of it shows
        (None, None),
        ("", None),
    ],
)
def test_id_numbers_show_the_first_and_last_four(number: str | None, masked: str | None) -> None:
    assert mask_id_number(number) == masked
