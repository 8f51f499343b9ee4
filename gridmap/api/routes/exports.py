"""Exports of a plan version (网格台账 .xlsx, .gpkg, .geojson) and the import of surveyed 户数 from an Excel 台账."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, UploadFile
from fastapi.responses import HTMLResponse, Response

from gridmap.api.deps import HouseholdEditor, LedgerUser, PageHouseholds, SessionDep
from gridmap.api.routes.people import CipherDep
from gridmap.errors import InvalidInput
from gridmap.exports import households, ledger
from gridmap.policy import user_scope
from gridmap.resources import FRONTEND

router = APIRouter(tags=["exports"])
MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "gpkg": "application/geopackage+sqlite3",
    "geojson": "application/geo+json",
}
ExportFormat = Annotated[Literal["xlsx", "gpkg", "geojson"], Path(description="xlsx (网格台账), gpkg or geojson")]


def attachment(name: str) -> dict[str, str]:
    """A download header whose Chinese file name survives every browser (RFC 6266 / 5987)."""
    plain = "plan." + name.rsplit(".", 1)[-1]  # for clients that read no filename*
    return {"Content-Disposition": f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name)}"}


@router.get("/api/plans/{plan_id}/export.{fmt}", response_class=Response, responses={200: {"content": MEDIA}})
def export_plan(
    plan_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    fmt: ExportFormat,
    user: LedgerUser,
    session: SessionDep,
    cipher: CipherDep,
) -> Response:
    """A plan version's grids (with 社区, 街道, 网格员) and buildings: phones masked, the reader's unit only."""
    layers = ledger.plan_layers(session, plan_id, user_scope(session, user), cipher)
    if fmt == "xlsx":
        body: bytes | str = ledger.to_xlsx(layers)
    elif fmt == "gpkg":
        body = ledger.to_gpkg(layers)
    else:
        body = ledger.to_geojson(layers)
    return Response(body, media_type=MEDIA[fmt], headers=attachment(f"{layers.stem}.{fmt}"))


@router.post("/api/imports/households")
def import_households(
    file: UploadFile,
    user: HouseholdEditor,
    session: SessionDep,
    dry_run: Annotated[bool, Query(description="only report what would change")] = False,
) -> dict[str, Any]:
    """Surveyed 户数 from an Excel 台账 (楼栋名称 or 地址 + 户数): matched rows are stored, the rest reported."""
    data = file.file.read(households.MAX_BYTES + 1)
    if not data:
        raise InvalidInput("文件是空的 / the file is empty")
    report = households.import_households(session, data, scope=user_scope(session, user), dry_run=dry_run)
    return report.as_json()


@router.get("/households", response_class=HTMLResponse, include_in_schema=False)
def households_page(_: PageHouseholds) -> HTMLResponse:
    """The 户数台账 page: upload, check, then store."""
    return HTMLResponse((FRONTEND / "households.html").read_text(encoding="utf-8"))
