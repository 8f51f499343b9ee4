"""Users: create (under the password policy), assign grids."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridmap.auth.security import check_password, hash_password
from gridmap.db.models import Role, User, UserGrid
from gridmap.errors import Conflict, InvalidInput
from gridmap.settings import AuthSettings


def create_user(
    *,
    session: Session,
    username: str,
    password: str,
    role: Role,
    full_name: str | None = None,
    department: str | None = None,
    grids: list[str] | None = None,
    unit_code: str | None = None,
    policy: AuthSettings | None = None,
    weak_password: bool = False,
) -> User:
    """Add a user; raises :class:`Conflict` when the name is taken.

    The password must meet ``policy`` (default :class:`AuthSettings`), unless ``weak_password`` says explicitly
    that it need not: only the demo's and the tests' seeded accounts do that.
    """
    if not username.strip():
        raise InvalidInput("用户名不能为空 / the username must not be empty")
    if "\x00" in username or "\x00" in password:
        raise InvalidInput("用户名和密码不能含 NUL 字符 / the username and password must not contain NUL characters")
    if not weak_password:
        rules = policy or AuthSettings()
        check_password(
            password, username=username, min_length=rules.password_min_length, min_classes=rules.password_min_classes
        )
    elif not password:
        raise InvalidInput("密码不能为空 / the password must not be empty")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise Conflict(f"用户 {username!r} 已存在 / user {username!r} already exists")
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        full_name=full_name,
        department=department,
        unit_code=unit_code,
        is_active=True,
    )
    session.add(user)
    session.flush()
    for code in grids or []:
        session.add(UserGrid(user_id=user.id, grid_code=code))
    session.flush()
    return user


def ensure_user(
    *,
    session: Session,
    username: str,
    password: str,
    role: Role,
    grids: list[str] | None = None,
    department: str | None = None,
    unit_code: str | None = None,
    weak_password: bool = False,
) -> User:
    """Create the user unless it exists; set its grids and unit (the demo; ``weak_password`` as in create_user)."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        return create_user(
            session=session,
            username=username,
            password=password,
            role=role,
            grids=grids,
            department=department,
            unit_code=unit_code,
            weak_password=weak_password,
        )
    if unit_code is not None:
        user.unit_code = unit_code
    if grids is not None:
        session.query(UserGrid).filter(UserGrid.user_id == user.id).delete()
        for code in grids:
            session.add(UserGrid(user_id=user.id, grid_code=code))
        session.flush()
    return user


def user_grids(*, session: Session, user: User) -> list[str]:
    """Grid codes a grid worker is assigned to."""
    return list(session.scalars(select(UserGrid.grid_code).where(UserGrid.user_id == user.id)).all())
