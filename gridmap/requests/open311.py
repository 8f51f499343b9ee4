"""Open311 GeoReport v2 read side: discovery, services, one service's definition and the search of public requests.

Only requests that residents filed through the public intake are public; staff reports never are. A public
request shows no reporter data and no typed address, and its point rounded to about 100 m. Answers are plain
lists and dicts; :func:`as_xml` renders them in the spec's XML shapes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from gridmap.db.models import RequestCategory, ServiceRequest
from gridmap.errors import InvalidInput
from gridmap.requests.states import OPEN, Status
from gridmap.requests.views import lonlat

PUBLIC_CHANNEL = "open311"
PUBLIC_DECIMALS = 3  # 0.001° is about 100 m north-south (90 m east-west here): the street, not the door
WINDOW = timedelta(days=90)  # the spec's default search window, and the longest a search may span
MAX_PAGE = 1000  # the spec's "first 1000 requests"
STATUS_NOTES = {s.value: s.value for s in Status} | {
    "reported": "已上报",
    "taken": "网格员已接单",
    "escalated": "已上报社区",
    "triaged": "社区已分单",
    "dispatched": "已派单",
    "accepted": "部门已接单",
    "returned": "部门退单,待重新派单",
    "resolved": "已办结,待核查",
    "verified": "已核查,待评价",
    "closed": "已结案",
    "reopened": "评价不满意,已重新打开",
    "merged": "重复上报,已合并",
}
OPEN_CODES = sorted(s.value for s in OPEN)


def discovery(base: str, *, contact: str, changeset: datetime) -> dict[str, Any]:
    """The discovery document: where the v2 endpoint is and which formats it speaks."""
    return {
        "changeset": changeset.isoformat(),
        "contact": contact,
        "key_service": "不需要密钥 / no API key is needed: reports are rate-limited per client",
        "endpoints": [
            {
                "specification": "http://wiki.open311.org/GeoReport_v2",
                "url": base,
                "changeset": changeset.isoformat(),
                "type": "production",
                "formats": ["application/json", "text/xml"],
            }
        ],
    }


def services(session: Session) -> list[dict[str, Any]]:
    """The active request categories as Open311 services."""
    rows = session.scalars(select(RequestCategory).where(RequestCategory.active).order_by(RequestCategory.code))
    return [_service(c) for c in rows]


def _service(c: RequestCategory) -> dict[str, Any]:
    return {
        "service_code": c.code,
        "service_name": c.name_zh,
        "description": c.name_en,
        "metadata": False,
        "type": "realtime",
        "keywords": "blocks_lane" if c.blocks_lane else "",
        "group": c.department,
    }


def service_definition(session: Session, code: str) -> dict[str, Any] | None:
    """A service's definition: gridmap's services ask for no attributes beyond the standard fields."""
    category = session.get(RequestCategory, code)
    if category is None or not category.active:
        return None
    return {"service_code": category.code, "attributes": []}


@dataclass(frozen=True)
class Search:
    """The GET requests query: ids override every other filter, as the spec says."""

    ids: Sequence[int] = ()
    codes: Sequence[str] = ()
    start: datetime | None = None
    end: datetime | None = None
    statuses: Sequence[str] = ()  # open | closed
    page: int = 1
    page_size: int = MAX_PAGE

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        """The period searched: the given dates, else the most recent 90 days; never longer than 90 days."""
        end = self.end or (self.start + WINDOW if self.start else now)
        start = self.start or end - WINDOW
        if end < start:
            raise InvalidInput("end_date 早于 start_date / end_date is before start_date")
        if end - start > WINDOW:
            raise InvalidInput("查询时段不能超过 90 天 / start_date and end_date may not span more than 90 days")
        return start, end


def parse_ids(text: str | None) -> list[int]:
    """``service_request_id=1,2,3`` → [1, 2, 3]; a clear error for anything else."""
    ids = []
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or len(part) > 10 or int(part) >= 2**31:
            raise InvalidInput(f"service_request_id 须为事件编号 / not a request id: {part[:40]!r}")
        ids.append(int(part))
    return ids


def parse_list(text: str | None, allowed: Iterable[str] | None = None, *, name: str) -> list[str]:
    """A comma-separated parameter; every value in ``allowed`` when that is given."""
    values = [v.strip() for v in (text or "").split(",") if v.strip()]
    if allowed is not None:
        known = set(allowed)
        wrong = [v for v in values if v not in known]
        if wrong:
            options = ", ".join(sorted(known))
            raise InvalidInput(f"{name} 只能是 {options} / {name} must be one of {options}, not {wrong[0][:40]!r}")
    return values


def _query(search: Search, now: datetime) -> Select[ServiceRequest]:
    query = select(ServiceRequest).where(ServiceRequest.channel == PUBLIC_CHANNEL)
    if search.ids:
        return query.where(ServiceRequest.id.in_(search.ids))
    start, end = search.window(now)
    query = query.where(ServiceRequest.created_at >= start, ServiceRequest.created_at <= end)
    if search.codes:
        query = query.where(ServiceRequest.category.in_(search.codes))
    if set(search.statuses) == {"open"}:
        query = query.where(ServiceRequest.status.in_(OPEN_CODES))
    elif set(search.statuses) == {"closed"}:
        query = query.where(ServiceRequest.status.not_in(OPEN_CODES))
    return query


def search_requests(session: Session, search: Search, *, now: datetime) -> tuple[list[dict[str, Any]], int]:
    """One page of the public requests that match, newest first, and how many match in all."""
    query = _query(search, now)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(ServiceRequest.created_at.desc(), ServiceRequest.id.desc())
        .limit(search.page_size)
        .offset((search.page - 1) * search.page_size)
    ).all()
    names = {code: name for code, name in session.execute(select(RequestCategory.code, RequestCategory.name_zh))}
    return [public_view(r, names.get(r.category, r.category)) for r in rows], total


def public_request(session: Session, request_id: int) -> dict[str, Any] | None:
    """One public request's view, or None when there is no public request of that id."""
    req = session.get(ServiceRequest, request_id)
    if req is None or req.channel != PUBLIC_CHANNEL:
        return None
    return public_view(req, session.get_one(RequestCategory, req.category).name_zh)


def public_view(req: ServiceRequest, service_name: str) -> dict[str, Any]:
    """What anyone may see of a public request: no reporter data, no typed address, the point to ~100 m."""
    lon, lat = lonlat(req)
    return {
        "service_request_id": str(req.id),
        "status": "open" if Status(req.status) in OPEN else "closed",
        "status_notes": STATUS_NOTES[req.status],
        "service_name": service_name,
        "service_code": req.category,
        "description": req.description,
        "agency_responsible": req.department,
        "service_notice": None,
        "requested_datetime": req.created_at.isoformat(),
        "updated_datetime": (req.updated_at or req.created_at).isoformat(),
        "expected_datetime": None,
        # the address a resident typed names a home as exactly as a point: left out, like the point's decimals
        "address": None,
        "address_id": None,
        "zipcode": None,
        "lat": None if lat is None else round(lat, PUBLIC_DECIMALS),
        "long": None if lon is None else round(lon, PUBLIC_DECIMALS),
        "media_url": next((p for p in req.photos if not p.startswith("/api/")), None),  # staff-only photos stay
    }


# ---------------------------------------------------------------- XML

ROOTS = {"services": "service", "service_requests": "request", "errors": "error", "discovery": None}


def as_xml(root: str, content: Any) -> bytes:
    """The spec's XML under ``root``; lists are items of its singular element.

    ``<services><service>…``, ``<service_requests><request>…``, ``<errors><error>…``, ``<service_definition>``
    and ``<discovery>``. Text is escaped by ElementTree; None is an empty element.
    """
    top = ET.Element(root)
    item = ROOTS.get(root)
    if item and isinstance(content, list):
        for entry in content:
            _fill(ET.SubElement(top, item), entry)
    else:
        _fill(top, content)
    body: bytes = ET.tostring(top, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>' + body


def _fill(node: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            if isinstance(inner, list):
                holder = ET.SubElement(node, key)
                singular = {"attributes": "attribute", "endpoints": "endpoint", "formats": "format", "values": "value"}
                for entry in inner:
                    _fill(ET.SubElement(holder, singular.get(key, "item")), entry)
            else:
                _fill(ET.SubElement(node, key), inner)
    elif isinstance(value, bool):
        node.text = "true" if value else "false"
    elif value is not None:
        node.text = str(value)
