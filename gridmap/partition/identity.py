"""Grid identity across a re-partition: which 社区 a new grid belongs to, and which old code it keeps.

A grid worker, the 楼栋长 and every open request are tied to a grid code, so a re-partition that renumbers
grids cuts every one of those links. A new grid therefore keeps the code of the old grid it mostly is: it holds
more than half of that old grid's households and the old grid makes up more than half of it. Every other new
grid gets a fresh sequence number, never one the plan used before (a worker's link must not silently point at
another area).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from gridmap.partition.codes import PREFIX, community_of, is_grid_code


def majority_prefixes(labels: np.ndarray, keys: pd.Series) -> dict[int, str]:
    """Per label, the most common valid 12-digit 社区 code among ``keys`` (aligned to ``labels``)."""
    frame = pd.DataFrame({"label": labels, "key": keys.to_numpy()})
    frame = frame[frame["key"].map(lambda k: isinstance(k, str) and bool(PREFIX.match(k)))]
    if frame.empty:
        return {}
    counts = frame.groupby(["label", "key"]).size().reset_index(name="n")
    best = counts.sort_values(["label", "n", "key"], ascending=[True, False, True]).drop_duplicates("label")
    return {int(label): str(key) for label, key in zip(best["label"], best["key"], strict=True)}


def previous_prefixes(labels: np.ndarray, previous: pd.Series) -> dict[int, str]:
    """Per label, the 社区 its buildings' previous grids mostly belonged to."""
    valid = previous.map(lambda c: community_of(c) if is_grid_code(c) else None)
    return majority_prefixes(labels, valid)


def kept_codes(
    labels: np.ndarray,
    previous: pd.Series,
    weight: np.ndarray,
    prefixes: Mapping[int, str],
    unavailable: frozenset[str],
) -> dict[int, str]:
    """Labels that keep a previous code (see the module); ``previous`` and ``weight`` are aligned to ``labels``.

    A code is kept only inside the label's own 社区 (``prefixes``) and never when it is ``unavailable`` (locked
    grids keep theirs). Pairs are taken greedily by the weight they share, largest first.
    """
    frame = pd.DataFrame({"label": labels, "code": previous.to_numpy(), "w": weight.astype(float)})
    frame = frame[frame["code"].map(lambda c: isinstance(c, str))]
    if frame.empty:
        return {}
    label_w = pd.Series(weight.astype(float)).groupby(labels).sum()
    code_w = frame.groupby("code")["w"].sum()
    shared = frame.groupby(["label", "code"])["w"].sum().sort_values(ascending=False, kind="stable")
    kept: dict[int, str] = {}
    used: set[str] = set()
    for (label_key, code_key), w in zip(shared.index.tolist(), shared.to_numpy(), strict=True):
        label, code = int(label_key), str(code_key)
        if label in kept or code in used or code in unavailable or community_of(code) != prefixes.get(label):
            continue
        if w > 0.5 * label_w[label] and w > 0.5 * code_w[code]:
            kept[label] = code
            used.add(code)
    return kept
