"""Personal data at rest: Fernet (AES-128-CBC + HMAC-SHA256) tokens, and phones and IDs checked on input.

How they are shown masked is :mod:`gridmap.privacy` (one rule for every page, list and export).

The key comes from ``GRIDMAP_PEOPLE__PII_KEY`` or is generated once in the state directory with mode 0600
(:meth:`gridmap.settings.Settings.effective_pii_key`); it is never in the repository. A token that the key
cannot open (the key was changed) reads as ``None`` and is shown as 无法解密, never as an error page.
"""

from __future__ import annotations

import re

from cryptography.fernet import Fernet, InvalidToken

from gridmap.errors import InvalidInput

PHONE = re.compile(r"^\+?[0-9][0-9\- ]{4,28}$")
ID_NUMBER = re.compile(r"^\d{17}[\dXx]$")  # 居民身份证号码, 18 characters
UNREADABLE = "无法解密"


class Cipher:
    """Encrypts and decrypts personal data with one Fernet key."""

    def __init__(self, key: str) -> None:
        try:
            self._fernet = Fernet(key.encode())
        except (ValueError, TypeError) as exc:
            raise InvalidInput(
                "个人信息密钥无效 / the personal-data key is not a Fernet key (32 url-safe base64 bytes)"
            ) from exc

    def seal(self, value: str | None) -> str | None:
        """The token of ``value`` (None stays None)."""
        return None if not value else self._fernet.encrypt(value.encode()).decode()

    def open(self, token: str | None) -> str | None:
        """The value of ``token``; None when empty or unreadable with this key."""
        if not token:
            return None
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            return None


def clean_phone(value: str | None) -> str | None:
    """A phone as digits (and a leading +); :class:`InvalidInput` when it is not one."""
    if value is None or not value.strip():
        return None
    if not PHONE.match(value.strip()):
        raise InvalidInput(f"电话号码格式不对 / {value!r} is not a phone number: digits, spaces, - and a leading +")
    return re.sub(r"[\s-]", "", value.strip())


def clean_id_number(value: str | None) -> str | None:
    """An 18-character 身份证号 (upper-case X); :class:`InvalidInput` when it is not one."""
    if value is None or not value.strip():
        return None
    if not ID_NUMBER.match(value.strip()):
        raise InvalidInput(
            "身份证号须为 18 位 (末位可为 X) / an ID number has 18 characters: 17 digits and a digit or X"
        )
    return value.strip().upper()


def shown(value: str | None, token: str | None, mask: str | None) -> str | None:
    """What a list shows for a sealed field: the mask, 无法解密 when the key cannot open it, or nothing."""
    if token and value is None:
        return UNREADABLE
    return mask
