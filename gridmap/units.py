"""Units by name, for people: 街道, 社区 and 网格 named from the NBS tables; the code only beside the name.

``admin_units`` (loaded by ``gridmap load-reference`` and the demo) is asked first, the NBS tables shipped in
``data/boundaries/cn_ref`` second, so a unit has its name even where the reference was never loaded.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridmap.db.models import AdminUnit, Role, User
from gridmap.partition.codes import GridCode, community_of, own_number, unit_at, unit_level, units_above
from gridmap.policy import ROLE_NAMES
from gridmap.resources import REFERENCE

NBS = REFERENCE
TRIM = ("社区居民委员会", "居民委员会", "居委会", "村民委员会", "村委会")


@functools.cache
def _nbs() -> dict[str, str]:
    """街道 and 社区 names of the shipped NBS tables by code (read once)."""
    names: dict[str, str] = {}
    for name in ("streets.csv", "villages_subset.csv"):
        path = NBS / name
        if path.exists():
            with path.open(encoding="utf-8") as f:
                names.update((row["code"], row["name"]) for row in csv.DictReader(f))
    return names


def _short(name: str) -> str:
    """香铺营社区居委会 → 香铺营社区 (what people call it)."""
    for tail in TRIM:
        if name.endswith(tail) and len(name) > len(tail):
            stem = name[: -len(tail)]
            return stem if stem.endswith(("社区", "村")) else stem + ("村" if "村" in tail else "社区")
    return name


def _stored(session: Session, codes: set[str]) -> dict[str, str]:
    if not codes:
        return {}
    rows = session.execute(select(AdminUnit.code, AdminUnit.name).where(AdminUnit.code.in_(sorted(codes))))
    return {code: name for code, name in rows}


def unit_names(session: Session, codes: Iterable[str]) -> dict[str, str]:
    """Names of 街道 (9 digits), 社区 (12) and grid (15) codes: 新街口街道, 新街口街道 香铺营社区, … 第3网格."""
    wanted = {c for c in codes if c}
    parts = {unit for c in wanted for unit in units_above(c)}
    known = _stored(session, parts)
    missing = parts - known.keys()
    if missing:
        known |= {c: _nbs()[c] for c in missing if c in _nbs()}
    out: dict[str, str] = {}
    for code in wanted:
        level = unit_level(code)
        if level is None:
            out[code] = code
            continue
        street_code = unit_at(code, "street")
        street = known.get(street_code, f"{street_code}街道")
        if level == "street":
            out[code] = street
            continue
        community = unit_at(code, "community")
        name = _short(known[community]) if community in known else f"{own_number(community)}社区"
        out[code] = f"{street} {name}"
        if level == "grid":
            out[code] += f" 第{GridCode.parse(code).sequence}网格"
    return out


def unit_name(session: Session, code: str) -> str:
    """The name of one 街道, 社区 or grid code."""
    return unit_names(session, [code])[code]


def grids_name(names: list[str]) -> str:
    """Several grids of one 社区 as one name: 新街口街道 香铺营社区 第1、2网格."""
    if not names:
        return ""
    stems = {n.rsplit(" ", 1)[0] for n in names}
    if len(stems) == 1 and all(n.endswith("网格") for n in names):
        numbers = "、".join(n.rsplit(" 第", 1)[1].removesuffix("网格") for n in names)
        return f"{stems.pop()} 第{numbers}网格"
    return "；".join(names)


def user_unit(session: Session, user: User, grids: list[str]) -> tuple[str | None, str | None]:
    """The unit code and name a user works for (a grid worker: its grids)."""
    if user.role is Role.grid_worker:
        if not grids:
            return None, None
        names = unit_names(session, grids)
        return (grids[0] if len(grids) == 1 else community_of(grids[0])), grids_name([names[g] for g in sorted(grids)])
    if user.role in {Role.community, Role.command}:
        return user.unit_code, unit_name(session, user.unit_code) if user.unit_code else None
    if user.role is Role.department:
        return None, user.department
    return None, None


def display_name(user: User, unit: str | None, *, english: bool = False) -> str:
    """网格员 · 新街口街道 XX社区 第1网格, 城管执法中队, 领导 · 张三: what the header shows."""
    role = ROLE_NAMES[user.role][1 if english else 0]
    if user.role is Role.department:
        return unit or role
    if user.role in {Role.grid_worker, Role.community, Role.command}:
        none = "no unit assigned" if english else "未设所属单位"
        return f"{role} · {unit or none}"
    return f"{role} · {user.full_name}" if user.full_name else role
