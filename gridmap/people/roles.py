"""Posts people hold in a grid and when 党员 and volunteers are free, with their names (简体中文, English)."""

from __future__ import annotations

POSTS: dict[str, tuple[str, str]] = {
    "grid_worker": ("网格员", "Grid worker"),
    "grid_leader": ("网格长", "Grid leader"),
    "building_head": ("楼长", "Building head"),
    "lane_head": ("街巷长", "Lane head"),
    "party_member": ("党员", "Party member"),
    "volunteer": ("志愿者", "Volunteer"),
}
STAFF = ("grid_leader", "grid_worker", "building_head", "lane_head")  # the order a card lists them in
REGISTERED = ("party_member", "volunteer")  # people who register (双报到) and are placed by the 社区
AVAILABILITY: dict[str, tuple[str, str]] = {
    "weekday_day": ("工作日白天", "weekdays, daytime"),
    "weekday_evening": ("工作日晚上", "weekday evenings"),
    "weekend": ("周末", "weekends"),
}
FIELDS = ("phone", "id_number")  # what a reveal can show
