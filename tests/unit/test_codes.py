"""Unit codes: one value type and a few helpers own the digits (gridmap/partition/codes.py, frontend/static/codes.js),
and nothing else in the package or the pages slices, pads or formats a code by hand."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from gridmap.errors import InvalidInput
from gridmap.partition.codes import (
    GridCode,
    community_of,
    community_prefix,
    community_sql,
    grid_label,
    is_grid_code,
    own_number,
    parent_of,
    unit_at,
    unit_level,
    units_above,
    units_at,
    widen,
)

ROOT = Path(__file__).resolve().parents[2]
GRID = "320102003001007"


def test_a_grid_code_is_parsed_into_its_units_and_formatted_back() -> None:
    code = GridCode.parse(GRID)
    assert (code.county, code.street, code.community, code.sequence, code.label) == (
        "320102",
        "320102003",
        "320102003001",
        7,
        "007",
    )
    assert str(code) == GRID and community_of(GRID) == "320102003001"


@pytest.mark.parametrize("bad", ["32010200300100", "3201020030010071", "32010200300100x", ""])
def test_a_bad_grid_code_is_refused_with_the_rule(bad: str) -> None:
    with pytest.raises(InvalidInput, match="15位数字"):
        GridCode.parse(bad)


def test_levels_parents_and_the_units_above() -> None:
    assert [unit_level(c) for c in ("320102003", "320102003001", GRID, "3201", "32010200300x", None)] == [
        "street",
        "community",
        "grid",
        None,
        None,
        None,
    ]
    assert [parent_of(c) for c in (GRID, "320102003001", "320102003", "abc")] == [
        "320102003001",
        "320102003",
        None,
        None,
    ]
    assert units_above(GRID) == ["320102003", "320102003001"]
    assert units_above("320102003001") == ["320102003", "320102003001"]
    assert units_above("320102003") == ["320102003"] and units_above("未定位") == []
    assert is_grid_code(GRID) and not is_grid_code("320102003001") and not is_grid_code(None)


def test_unit_at_keeps_codes_no_deeper_than_the_level_and_placeholders() -> None:
    assert unit_at(GRID, "community") == "320102003001" and unit_at(GRID, "street") == "320102003"
    assert unit_at("320102003", "county") == "320102" and unit_at("320102", "city") == "3201"
    assert unit_at("320102003", "community") == "320102003"  # a 街道 is no deeper than a 社区
    assert unit_at("未定位", "community") == "未定位"
    column = pd.Series([GRID, "320102003", "未定位"])
    assert units_at(column, "community").tolist() == ["320102003001", "320102003", "未定位"]
    assert units_at(column, "street").tolist() == ["320102003", "320102003", "未定位"]


def test_labels_numbers_prefixes_and_padding() -> None:
    assert grid_label(GRID) == "007" and grid_label("no-code") == "no-code"
    assert own_number("320102003001") == "001" and own_number(GRID) == "007"
    with pytest.raises(InvalidInput):
        own_number("320102003")
    assert community_prefix("320102003001") == "320102003001"
    assert community_prefix("320102003001999") == "320102003001" and community_prefix("3201020030") is None
    assert widen("32", "county") == "320000" and widen("3201", "county") == "320100"
    assert widen("320102", "county") == "320102"
    assert community_sql("g.code") == "left(g.code, 12)"


# A code sliced at a unit boundary ([:9], [:12], [12:], [-3:], str[:12]), padded (zfill, :03d), or cut in SQL.
PY_SLICES = re.compile(
    r"\[\s*:\s*(?:2|4|6|9|12|15|[A-Z_]*DIGITS)\s*\]|\[\s*(?:9|12|-3)\s*:\s*\]|zfill\(|:03d|%03d"
    r"|\b(?:left|substr|substring|right)\(\s*[\w.:]*code\w*\s*,\s*\d+"
)
PY_PATTERNS = re.compile(r"\\d\{(?:9|12|15)(?:,\d+)?\}|\\d\{\{")  # a code's shape by hand: use codes.*_PATTERN
JS_SLICES = re.compile(r"slice\(\s*(?:-3|0,\s*(?:9|12)|9|12)\s*\)|substr(?:ing)?\(|padStart\(\s*3")
JS_PATTERNS = re.compile(r"\\d\{(?:9|12|15)\}")  # a code's shape tested by hand, whatever the variable is called
CODE_NAME = re.compile(r"(?<![a-z])code|grid|unit|prefix|communit|street|count(?:y|ies)|cit(?:y|ies)", re.IGNORECASE)
ANY_NAME = re.compile("")


def _hand_slices(files: list[Path], pattern: re.Pattern[str], names: re.Pattern[str] = CODE_NAME) -> list[str]:
    found = []
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line) and names.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    return found


def test_no_code_is_sliced_by_hand_outside_the_codes_module() -> None:
    package = [
        p
        for p in sorted((ROOT / "gridmap").rglob("*.py"))
        if p.name != "codes.py" and "migrations" not in p.parts  # migrations are frozen history
    ]
    pages = [p for p in sorted((ROOT / "frontend" / "static").glob("*.js")) if p.name != "codes.js"]
    assert len(package) > 100 and len(pages) > 10
    found = _hand_slices(package, PY_SLICES) + _hand_slices(package, PY_PATTERNS, ANY_NAME)
    found += _hand_slices(pages, JS_SLICES)
    found += _hand_slices(pages, JS_PATTERNS, ANY_NAME)
    assert found == [], "use gridmap.partition.codes / gridmapCodes (static/codes.js) instead:\n" + "\n".join(found)


def test_the_guard_sees_the_slices_it_forbids() -> None:
    samples = [
        "community = code[:12]",
        'out[code] += f" 第{int(code[12:])}网格"',
        "return codes.str[:COMMUNITY_DIGITS]",
        "label = str(code)[-3:]",
        'f"{prefix}{n:03d}"',
        "mode() WITHIN GROUP (ORDER BY left(pg.code, 12))",
    ]
    assert all(PY_SLICES.search(s) and CODE_NAME.search(s) for s in samples)
    js = ["f.properties.grid_code.slice(-3)", "code.substring(0, 12)", "unit_code.slice(0, 9)"]
    assert all(JS_SLICES.search(s) and CODE_NAME.search(s) for s in js)
    assert JS_PATTERNS.search('/^\\d{15}$/.test(named || "")')
    patterns = ['Field(pattern=r"^\\d{15}$")', 'Query(pattern=r"^\\d{9,15}$")']
    patterns += ['re.fullmatch(rf"\\d{{{digits}}}", unit)']
    assert all(PY_PATTERNS.search(s) for s in patterns) and not PY_PATTERNS.search(r"(\.\d{1,15})")
    assert not CODE_NAME.search("hashlib.sha256(repr(args).encode()).hexdigest()[:12]")


def test_every_page_that_reads_codes_loads_the_codes_module_first() -> None:
    users = {p.name for p in (ROOT / "frontend" / "static").glob("*.js") if "gridmapCodes" in p.read_text("utf-8")}
    assert users == {"codes.js", "planner.js", "report.js"}
    pages = {"planner.html": "planner.js", "report.html": "report.js", "public_report.html": "report.js"}
    for page, script in pages.items():
        html = (ROOT / "frontend" / page).read_text(encoding="utf-8")
        assert 0 < html.index("/static/codes.js") < html.index(f"/static/{script}"), page
    assert "/static/codes.js" in (ROOT / "frontend" / "static" / "sw.js").read_text(encoding="utf-8")  # offline too
