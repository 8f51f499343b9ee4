"""``gridmap cards``: print every 网格公示牌 of a 社区 (or one grid) as one PDF."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from gridmap.cli.common import console, engine, progress_bar, settings, user_errors


def cards_command(
    code: Annotated[str, typer.Argument(help="a 社区 (12 digits) or one grid (15 digits)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="the PDF to write")] = Path("cards.pdf"),
    base_url: Annotated[
        str | None, typer.Option(help="server address in the QR codes (default: GRIDMAP_NOTIFY__PUBLIC_URL)")
    ] = None,
) -> None:
    """Write the 网格公示牌 of every published grid of a 社区 (a page each) or of one grid."""
    from gridmap.db.session import session_scope
    from gridmap.errors import InvalidInput, NotFound
    from gridmap.people import card, notice, queries
    from gridmap.people.pii import Cipher

    s = settings()
    with user_errors():
        if not code.isdigit() or len(code) not in (12, 15):
            raise InvalidInput(f"代码须为 12 位社区或 15 位网格代码 / {code!r}: a 12-digit 社区 or 15-digit grid code")
        base = base_url or s.notify.public_url or f"http://{s.host}:{s.port}"
        cipher = Cipher(s.effective_pii_key())
        with session_scope(engine()) as session, progress_bar() as update:
            codes = queries.published_grid_codes(session, code)
            if not codes:
                raise NotFound(f"{code} 没有已发布的网格 / {code} has no grid in the published plan")

            def pages() -> Iterator[card.CardData]:  # drawn one by one as the PDF is written
                for i, grid in enumerate(codes, 1):
                    yield notice.card_data(
                        session, cipher, grid, base_url=base, supervision_phone=s.people.supervision_phone,
                        title=s.people.card_title,
                    )
                    update("生成公示牌 / drawing cards", i, len(codes))

            body = card.pdf(pages())
        tmp = out.with_suffix(out.suffix + ".part")  # a failed run leaves no half-written PDF behind
        tmp.write_bytes(body)
        tmp.replace(out)
    console.print(f"{len(codes)} 张公示牌 / cards → {out}")
