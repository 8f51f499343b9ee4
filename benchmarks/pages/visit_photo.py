"""A visit's photo queued offline on the phone: compressed (``frontend/static/photos.js``), kept in IndexedDB.

For camera-sized JPEGs (gradient + sensor-like noise, quality 92, made here with a fixed seed) it times, in Debian's
chromium, ``gridmapCompressPhoto`` (JPEG, long side ≤ 1600 px, as the visit and report forms do), and putting the
Blob into IndexedDB and reading it back, and compares the size kept with the server's photo limit
(``GRIDMAP_REQUESTS__MAX_PHOTO_BYTES``, 10 MB by default). Writes ``visit_photo.md`` beside this script.

    .venv/bin/python -m benchmarks.pages.visit_photo [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from playwright.sync_api import sync_playwright

from gridmap.settings import RequestSettings

HERE = Path(__file__).resolve().parent
PHOTOS_JS = HERE.parents[1] / "frontend" / "static" / "photos.js"
SIZES = [(4032, 3024), (3024, 4032), (1920, 1080)]
PROBE = """async () => {
  const f = document.getElementById('f').files[0];
  const t0 = performance.now(); const blob = await gridmapCompressPhoto(f, 1600); const t1 = performance.now();
  const db = await new Promise((res, rej) => { const q = indexedDB.open('probe', 1);
    q.onupgradeneeded = () => q.result.createObjectStore('s'); q.onsuccess = () => res(q.result); q.onerror = rej; });
  const t2 = performance.now();
  await new Promise((res, rej) => { const tx = db.transaction('s', 'readwrite');
    tx.objectStore('s').put({photo: blob}, 1); tx.oncomplete = res; tx.onerror = rej; });
  const t3 = performance.now();
  const back = await new Promise((res, rej) => { const tx = db.transaction('s'); const g = tx.objectStore('s').get(1);
    tx.oncomplete = () => res(g.result); tx.onerror = rej; });
  db.close();
  return {size: back.photo.size, compress: t1 - t0, put: t3 - t2, get: performance.now() - t3};
}"""


def camera_photo(path: Path, width: int, height: int) -> int:
    """A JPEG like a phone camera's (smooth scene plus noise); its size in bytes."""
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:height, 0:width]
    scene = np.stack([x * 255 // width, y * 255 // height, (x + y) * 255 // (width + height)], -1)
    noisy = np.clip(scene + rng.normal(0, 18, scene.shape), 0, 255).astype(np.uint8)
    Image.fromarray(noisy).save(path, quality=92)
    return path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    limit = RequestSettings().max_photo_bytes
    rows = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.route("http://phone.test/", lambda r: r.fulfill(body="<input type=file id=f>", content_type="text/html"))
        page.goto("http://phone.test/")
        page.add_script_tag(content=PHOTOS_JS.read_text(encoding="utf-8"))
        for width, height in SIZES:
            source = Path(tmp) / f"camera-{width}x{height}.jpg"
            before = camera_photo(source, width, height)
            page.set_input_files("#f", str(source))
            runs = [page.evaluate(PROBE) for _ in range(args.runs)]
            kept = runs[0]["size"]
            ms = {k: statistics.median(r[k] for r in runs) for k in ("compress", "put", "get")}
            rows.append(
                f"| {width}×{height} | {before / 1e6:.2f} MB | {kept / 1e3:.0f} KB | {ms['compress']:.0f} | "
                f"{ms['put']:.1f} | {ms['get']:.1f} | {'yes' if kept <= limit else 'no'} |"
            )
        browser.close()
    table = [
        "# A visit's photo queued offline on the phone",
        "",
        f"`python -m benchmarks.pages.visit_photo --runs {args.runs}` (Debian chromium, 390×844; medians of the runs;",
        "the machine is shared, timings are noisy). Photo: JPEG, quality 92, gradient + noise, fixed seed.",
        "",
        f"| camera photo | taken | kept in IndexedDB | compress ms | put ms | get ms | ≤ {limit / 2**20:.0f} MB |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
    ]
    (HERE / "visit_photo.md").write_text("\n".join(table), encoding="utf-8")
    print("\n".join(table))  # noqa: T201


if __name__ == "__main__":
    main()
