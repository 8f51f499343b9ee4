"""Argon2 password hashes, the password policy and signed bearer tokens (JWT, HS256)."""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gridmap.errors import InvalidInput

ALGORITHM = "HS256"
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """Argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password: str, hashed: str) -> bool:
    """Whether ``password`` matches ``hashed``."""
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def waste_verification(password: str) -> None:
    """Spend the time of a real verification, so that an unknown user answers as slowly as a known one."""
    verify_password(password, _dummy_hash())


def _classes(password: str) -> int:
    kinds = set()
    for ch in password:
        if ch.islower():
            kinds.add("lower")
        elif ch.isupper():
            kinds.add("upper")
        elif ch.isdigit():
            kinds.add("digit")
        elif not unicodedata.category(ch).startswith("C"):
            kinds.add("other")  # punctuation, symbols, spaces, 汉字
    return len(kinds)


def check_password(password: str, *, username: str, min_length: int, min_classes: int) -> None:
    """Raise :class:`InvalidInput` unless ``password`` is long and varied enough and does not contain the name."""
    if len(password) < min_length:
        raise InvalidInput(f"密码至少 {min_length} 个字符 / the password needs at least {min_length} characters")
    if _classes(password) < min_classes:
        raise InvalidInput(
            f"密码须含小写字母、大写字母、数字、其他字符中的至少 {min_classes} 类 / the password needs characters "
            f"of at least {min_classes} kinds: lower case, upper case, digits, other characters"
        )
    if username and username.casefold() in password.casefold():
        raise InvalidInput("密码不能包含用户名 / the password must not contain the username")


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a valid token says: whose it is, when it expires (POSIX seconds) and its session (``jti``)."""

    subject: str
    expires: float
    session_id: str


def new_session_id() -> str:
    """A fresh, unguessable session id (32 characters)."""
    return secrets.token_hex(16)


def create_token(*, subject: str, role: str, secret: str, minutes: float, session_id: str) -> str:
    """A bearer token for ``subject`` and session ``session_id`` that expires after ``minutes``."""
    now = datetime.now(UTC)
    claims = {"sub": subject, "role": role, "iat": now, "exp": now + timedelta(minutes=minutes), "jti": session_id}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_token(token: str, secret: str) -> TokenClaims | None:
    """The claims of a valid, unexpired token with a session id, else None."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM])
    except jwt.PyJWTError:
        return None
    subject, expires, session = claims.get("sub"), claims.get("exp"), claims.get("jti")
    if isinstance(subject, str) and isinstance(expires, int | float) and isinstance(session, str):
        return TokenClaims(subject, float(expires), session)
    return None


def same_secret(stored: str | None, given: str) -> bool:
    """Whether ``given`` is the secret ``stored``, in constant time; any text may be given (it is compared as UTF-8)."""
    return bool(stored) and secrets.compare_digest(str(stored).encode(), given.encode())
