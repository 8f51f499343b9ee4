"""Visit kinds (走访类型) with their names; the plan (visits per year) of each is in ``FieldworkSettings``."""

from __future__ import annotations

import enum


class VisitKind(enum.StrEnum):
    """What a visit was for."""

    routine = "routine"  # 常规 (遍访: every household)
    key_person = "key_person"  # 重点人员
    hardship = "hardship"  # 困难家庭
    elderly_alone = "elderly_alone"  # 空巢老人
    key_place = "key_place"  # 重点场所
    other = "other"


KIND_NAMES: dict[VisitKind, tuple[str, str]] = {
    VisitKind.routine: ("常规走访", "Routine"),
    VisitKind.key_person: ("重点人员", "Key person"),
    VisitKind.hardship: ("困难家庭", "Family in hardship"),
    VisitKind.elderly_alone: ("空巢老人", "Elderly living alone"),
    VisitKind.key_place: ("重点场所", "Key place"),
    VisitKind.other: ("其他", "Other"),
}
