"""Users: create, authenticate, assign grids."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridmap.auth.security import hash_password, verify_password
from gridmap.db.models import Role, User, UserGrid
from gridmap.errors import Conflict, InvalidInput

MIN_PASSWORD = 4


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
) -> User:
    """Add a user; raises :class:`Conflict` when the name is taken."""
    if not username.strip():
        raise InvalidInput("username must not be empty")
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"password must have at least {MIN_PASSWORD} characters")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise Conflict(f"user {username!r} already exists")
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
) -> User:
    """Create the user unless it exists; set its grids and unit (used by the demo)."""
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
        )
    if unit_code is not None:
        user.unit_code = unit_code
    if grids is not None:
        session.query(UserGrid).filter(UserGrid.user_id == user.id).delete()
        for code in grids:
            session.add(UserGrid(user_id=user.id, grid_code=code))
        session.flush()
    return user


def authenticate(*, session: Session, username: str, password: str) -> User | None:
    """The active user with these credentials, else None."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.is_active or not verify_password(password, user.password_hash):
        return None
    return user


def user_grids(*, session: Session, user: User) -> list[str]:
    """Grid codes a grid worker is assigned to."""
    return list(session.scalars(select(UserGrid.grid_code).where(UserGrid.user_id == user.id)).all())
