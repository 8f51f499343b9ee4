"""The CLI summary explains every grid the rules force out of band, however many other notes there are."""

from __future__ import annotations

import pytest

from gridmap.cli import partition


def test_every_forced_grid_is_explained_after_many_notes(capsys: pytest.CaptureFixture[str]) -> None:
    notes = [f"000000000000{i:03d}: 为覆盖完整，含 淮海路 对面一块无住户街区 / street block" for i in range(1, 31)]
    forced = "000000000000031: 单栋楼即有 400 户 (超过 360)，只能自成一格 / one building of 400 households"
    partition._summary({"infeasible": [*notes, forced], "size_infeasible_grids": ["000000000000031"]})
    out = capsys.readouterr().out
    assert "只能自成一格" in out and "另有 10 条" in out
