// 巡查 on the phone. Positions are recorded ONLY between 开始巡查 and 结束巡查 (a 行踪轨迹 is sensitive personal
// information): navigator.geolocation.watchPosition, accuracy kept, thinned to one position per ~10 m. The patrol
// and its positions wait in an IndexedDB outbox (outbox.js) and are uploaded to PUT /api/patrols/{key} when the
// network allows; the server stores a position once however often it is sent. Reports made on /report during a
// patrol are noted with it (noteReport) and linked to it on the server.
const gridmapPatrol = (() => {
  const box = gridmapMakeOutbox("gridmap-patrol", "patrols");
  const STATE = "gridmap.patrol", LAST = "gridmap.patrol.last", THIN_M = 10, BATCH = 10, CHUNK = 1000;
  const listeners = [];
  let watch = null, last = null, chain = Promise.resolve(), syncing = null, unsent = 0;

  const current = () => JSON.parse(localStorage.getItem(STATE) || "null");
  const lastResult = () => JSON.parse(localStorage.getItem(LAST) || "null");
  const changed = () => listeners.forEach(fn => fn());
  // IndexedDB items are read, changed and written back one change at a time (positions arrive while uploading).
  const serial = work => (chain = chain.then(work, work));

  function metres(a, b) {
    const r = 6371000, rad = Math.PI / 180;
    const dy = (b.lat - a.lat) * rad, dx = (b.lon - a.lon) * rad * Math.cos(((a.lat + b.lat) / 2) * rad);
    return r * Math.hypot(dx, dy);
  }

  function record(key, pos) {
    const point = {t: new Date(pos.timestamp || Date.now()).toISOString(), lon: pos.coords.longitude,
      lat: pos.coords.latitude, accuracy: pos.coords.accuracy ?? null};
    if (last && metres(last, point) < THIN_M) return null;
    last = point;
    return serial(async () => {
      const item = await box.get(key);
      if (!item || item.ended_at) return;
      item.points.push(point);
      item.count = (item.count || 0) + 1;
      await box.put(item);
      unsent += 1;
      changed();
      if (unsent >= BATCH && navigator.onLine) sync();
    });
  }

  function follow(patrol) {
    if (watch !== null || !navigator.geolocation) return;
    watch = navigator.geolocation.watchPosition(pos => record(patrol.key, pos), err => {
      gridmapPatrol.error = err.message || String(err.code);
      changed();
    }, {enableHighAccuracy: true, maximumAge: 5000, timeout: 60000});
  }

  async function start(grid) {
    if (current()) return current();
    const patrol = {key: box.newKey(), started_at: new Date().toISOString(), grid_code: grid || null};
    localStorage.setItem(STATE, JSON.stringify(patrol));
    await serial(() => box.put({...patrol, createdAt: patrol.started_at, ended_at: null, points: [], report_keys: [], count: 0}));
    last = null;
    follow(patrol);
    changed();
    if (navigator.onLine) sync();
    return patrol;
  }

  async function end() {
    const patrol = current();
    if (!patrol) return;
    if (watch !== null) navigator.geolocation.clearWatch(watch);
    watch = null;
    localStorage.removeItem(STATE);
    await serial(async () => {
      const item = await box.get(patrol.key);
      if (item) { item.ended_at = new Date().toISOString(); await box.put(item); }
    });
    changed();
    return sync();
  }

  function noteReport(reportKey) {
    const patrol = current();
    if (!patrol) return Promise.resolve();
    return serial(async () => {
      const item = await box.get(patrol.key);
      if (item && !item.report_keys.includes(reportKey)) { item.report_keys.push(reportKey); await box.put(item); }
    });
  }

  async function send(whole) {
    // at most CHUNK positions per upload (the server takes up to 5,000); the end goes with the last of them
    const points = whole.points.slice(0, CHUNK), last = points.length === whole.points.length;
    const item = {...whole, points, ended_at: last ? whole.ended_at : null};
    const body = {started_at: item.started_at, ended_at: item.ended_at, grid_code: item.grid_code,
      points, report_keys: item.report_keys};
    let response;
    try {
      response = await fetch(`/api/patrols/${encodeURIComponent(item.key)}`, {method: "PUT", credentials: "same-origin",
        headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
    } catch (e) { return false; }  // no network: the outbox keeps it
    if (!response.ok) {
      const answer = await response.json().catch(() => ({}));
      gridmapPatrol.error = typeof answer.detail === "string" ? answer.detail : `HTTP ${response.status}`;
      return false;
    }
    const feature = await response.json();
    await serial(async () => {  // what was sent is stored: keep only positions recorded meanwhile
      const now = await box.get(item.key);
      if (!now) return;
      now.points = now.points.slice(item.points.length);
      if (item.ended_at && !now.points.length) {  // the end was in this upload: the patrol is all on the server
        await box.remove(item.key);
        localStorage.setItem(LAST, JSON.stringify(feature.properties));
      } else await box.put(now);
    });
    gridmapPatrol.error = null;
    return true;
  }

  function sync() {
    if (!syncing) {
      syncing = (async () => {
        try {
          for (let item of await box.all()) {
            while (item) {  // chunk after chunk, until the outbox holds nothing of this patrol or an upload fails
              if (!(await send(item))) return;
              item = await box.get(item.key);
              if (item && !item.points.length && !item.ended_at) break;  // under way, all sent: more positions later
            }
          }
          unsent = 0;
        } finally { syncing = null; changed(); }
      })();
    }
    return syncing;
  }

  async function pending() {
    const items = await box.all();
    return {patrols: items.length, points: items.reduce((n, i) => n + i.points.length, 0),
      recorded: items.filter(i => !i.ended_at).reduce((n, i) => n + (i.count || 0), 0)};
  }

  const patrol = current();
  if (patrol && document.getElementById("patrol")) follow(patrol);  // the workbench was reloaded mid-patrol
  window.addEventListener("online", () => sync());
  setInterval(() => { if (navigator.onLine) sync(); }, 30000);
  return {start, end, sync, noteReport, current, lastResult, pending, onChange: fn => listeners.push(fn), error: null};
})();
