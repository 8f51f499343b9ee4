"""网格公示牌: a grid's A4 card as PDF or PNG, and every card of a 社区 as one PDF (to print with one click)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from gridmap.api.deps import SessionDep, SettingsDep, require_role
from gridmap.api.routes.people import CipherDep
from gridmap.db.models import User
from gridmap.errors import Forbidden, NotFound
from gridmap.partition.codes import COMMUNITY_PATTERN, GRID_PATTERN
from gridmap.people import card, notice, queries
from gridmap.policy import CARD_PRINTERS, check_grid, user_scope
from gridmap.settings import Settings

router = APIRouter(tags=["cards"])
Printer = Annotated[User, Depends(require_role(*CARD_PRINTERS))]
GridCode = Annotated[str, Path(pattern=GRID_PATTERN, description="the grid's 15-digit code")]
CommunityCode = Annotated[str, Path(pattern=COMMUNITY_PATTERN, description="the 社区's 12-digit code")]
PDF: dict[int | str, dict[str, Any]] = {200: {"content": {"application/pdf": {}}}}
PNG: dict[int | str, dict[str, Any]] = {200: {"content": {"image/png": {}}}}


def _base(request: Request, settings: Settings) -> str:
    return settings.notify.public_url or str(request.base_url)


def _file(body: bytes, media: str, name: str) -> Response:
    return Response(body, media_type=media, headers={"Content-Disposition": f'inline; filename="{name}"'})


def _card(request: Request, settings: Settings, session: SessionDep, cipher: CipherDep, code: str) -> card.CardData:
    return notice.card_data(
        session,
        cipher,
        code,
        base_url=_base(request, settings),
        supervision_phone=settings.people.supervision_phone,
        title=settings.people.card_title,
    )


@router.get("/grids/{code}/card.pdf", response_class=Response, responses=PDF)
def card_pdf(
    request: Request, code: GridCode, session: SessionDep, settings: SettingsDep, cipher: CipherDep, user: Printer
) -> Response:
    """The grid's 网格公示牌 as an A4 PDF."""
    check_grid(user_scope(session, user), code, user)
    return _file(card.pdf([_card(request, settings, session, cipher, code)]), "application/pdf", f"{code}.pdf")


@router.get("/grids/{code}/card.png", response_class=Response, responses=PNG)
def card_png(
    request: Request, code: GridCode, session: SessionDep, settings: SettingsDep, cipher: CipherDep, user: Printer
) -> Response:
    """The grid's 网格公示牌 as an A4 PNG (150 dpi)."""
    check_grid(user_scope(session, user), code, user)
    return _file(card.png(_card(request, settings, session, cipher, code)), "image/png", f"{code}.png")


@router.get("/communities/{code}/cards.pdf", response_class=Response, responses=PDF)
def community_cards(
    request: Request, code: CommunityCode, session: SessionDep, settings: SettingsDep, cipher: CipherDep, user: Printer
) -> Response:
    """Every card of a 社区 (those in the caller's scope) as one PDF, a page per grid."""
    scope = user_scope(session, user)
    codes = queries.published_grid_codes(session, code)
    if not codes:
        raise NotFound(f"社区 {code} 没有已发布的网格 / 社区 {code} has no grid in the published plan")
    mine = [c for c in codes if scope.covers_grid(c)]
    if not mine:
        raise Forbidden(f"该社区不在您的辖区 / 社区 {code} is outside your scope")
    cards = [_card(request, settings, session, cipher, c) for c in mine]
    return _file(card.pdf(cards), "application/pdf", f"{code}-cards.pdf")
