"""Personal data at rest and on screen: Fernet (AES-128-CBC + HMAC-SHA256) tokens, masks for phones and IDs.

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


def mask_phone(value: str | None) -> str | None:
    """138****5678: the first three and last four digits (shorter numbers: only the last two)."""
    if not value:
        return None
    if len(value) >= 11:
        return value[:3] + "*" * (len(value) - 7) + value[-4:]
    return "*" * (len(value) - 2) + value[-2:]


def mask_id_number(value: str | None) -> str | None:
    """3201**********123X: the first four (the 市) and the last four characters."""
    if not value:
        return None
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def shown(value: str | None, token: str | None, mask: str | None) -> str | None:
    """What a list shows for a sealed field: the mask, 无法解密 when the key cannot open it, or nothing."""
    if token and value is None:
        return UNREADABLE
    return mask
