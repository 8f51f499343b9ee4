// The report form (上报), phone-first. Staff (/report) report through POST /api/requests, residents
// (/public/report) through Open311. Every report goes into the outbox first (IndexedDB, outbox.js) with its
// Idempotency-Key, then to the server; without network it waits there (待同步) and is sent when the network returns.
const MODE = document.body.dataset.mode === "public" ? "public" : "staff";
const EN = {
  home: "Home", title: "Report a problem", publicTitle: "Report a problem", category: "Category", where: "Location",
  locate: "Use my location", addressHint: "or type a compound, building or address", tapMap: "Tap the map to choose the place",
  describe: "Description", describeHint: "What is wrong? (optional)", photos: "Photos", takePhoto: "Take / choose photos",
  contact: "Resident's contact (when reporting for a resident)", publicContact: "Contact (optional, seen only by staff calling back)",
  name: "Name", phone: "Phone", submit: "Report", outbox: "Waiting to sync", outboxEmpty: "Nothing waiting to sync",
  syncNow: "Sync now",
};
const lang = gridmapI18n(EN);
const T = (zh, en) => (lang === "en" ? en : zh);
document.querySelectorAll("[data-i18n-placeholder]").forEach(el => {
  if (lang === "en" && EN[el.dataset.i18nPlaceholder]) el.placeholder = EN[el.dataset.i18nPlaceholder];
});
const API = MODE === "staff"
  ? {categories: "/api/categories", where: "/api/geocode/where", suggest: "/api/geocode/suggest", report: "/api/requests"}
  : {categories: "/open311/v2/services.json", where: "/public/api/geocode/where", suggest: "/public/api/geocode/suggest",
     report: "/open311/v2/requests.json"};
const ICONS = new Set(["illegal_parking", "blocked_lane", "street_vending", "garbage", "stairwell_clutter",
  "thrown_from_height", "facade_falling", "vegetable_plots", "pets", "noise", "broken_facility"]);
const MAX_SIDE = 1600, MAX_PHOTOS = 9, SVG = "http://www.w3.org/2000/svg";
const $ = id => document.getElementById(id);
const state = {categories: [], category: null, point: null, photos: [], gridNames: new Map(), inflight: new Set()};

if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js", {scope: "/"}).catch(() => {});

// ---- categories as tiles -------------------------------------------------------------------------------------
function icon(name, cls) {
  const svg = document.createElementNS(SVG, "svg");
  if (cls) svg.setAttribute("class", cls);
  svg.setAttribute("aria-hidden", "true");
  const use = document.createElementNS(SVG, "use");
  use.setAttribute("href", `/static/report-icons.svg#${name}`);
  svg.appendChild(use);
  return svg;
}

function showTiles() {
  const box = $("tiles");
  box.replaceChildren();
  for (const c of state.categories) {
    const tile = document.createElement("button");
    tile.type = "button";
    tile.className = "tile";
    tile.setAttribute("role", "radio");
    tile.dataset.code = c.code;
    tile.setAttribute("aria-checked", String(state.category === c.code));
    tile.appendChild(icon(ICONS.has(c.code) ? c.code : "other"));
    const label = document.createElement("span");
    label.textContent = T(c.zh, c.en || c.zh);
    tile.appendChild(label);
    tile.addEventListener("click", () => { state.category = c.code; showTiles(); });
    box.appendChild(tile);
  }
}

async function loadCategories() {
  try {
    const r = await fetch(API.categories);
    if (!r.ok) throw new Error(r.statusText);
    const rows = await r.json();
    state.categories = MODE === "staff"
      ? rows.map(c => ({code: c.code, zh: c.name_zh, en: c.name_en}))
      : rows.map(c => ({code: c.service_code, zh: c.service_name, en: c.description}));
  } catch (e) {
    say("bad", T("类别加载失败,请联网后重试", "Could not load the categories: connect and retry"));
  }
  showTiles();
}

// ---- the map: our own grids, buildings and streets -------------------------------------------------------------
const map = L.map("map", {zoomSnap: 0.5}).setView([32.0, 110.0], 4);
map.attributionControl.setPrefix(false);
map.attributionControl.addAttribution("© OpenStreetMap contributors");
const backdrop = L.geoJSON(null, {interactive: false, style: f => f.properties.layer === "street"
  ? {color: "#9aa0a6", weight: 2} : {color: "#90a4ae", weight: 0.6, fillColor: "#cfd8dc", fillOpacity: 0.8}}).addTo(map);
let gridsLayer = null, marker = null, accuracyCircle = null, backdropTimer = null, mine = new Set();

async function loadMap() {
  if (MODE === "staff") {
    fetch("/api/map-config").then(r => r.json()).then(c => { if (c.tiles) L.tileLayer(c.tiles, {maxZoom: 19}).addTo(map).bringToBack(); }).catch(() => {});
    try { mine = new Set((await (await fetch("/api/me")).json()).grids || []); } catch (e) { mine = new Set(); }
  }
  // A 网格公示牌's QR code names its grid (/public/report?grid=CODE): the map opens on that grid, outlined.
  const named = new URLSearchParams(location.search).get("grid");
  if (MODE === "public" && gridmapCodes.isGrid(named)) mine = new Set([named]);
  try {
    const grids = await (await fetch("/public/api/grids")).json();
    for (const f of grids.features) state.gridNames.set(f.properties.grid_code, f.properties.grid_name);
    gridsLayer = L.geoJSON(grids, {interactive: false, style: f => mine.has(f.properties.grid_code)
      ? {color: "#c62828", weight: 2.5, fillColor: "#ef9a9a", fillOpacity: 0.15}
      : {color: "#c62828", weight: 1, dashArray: "4 4", fill: false}}).addTo(map);
    const own = L.featureGroup(gridsLayer.getLayers().filter(l => mine.has(l.feature.properties.grid_code)));
    const frame = own.getLayers().length ? own.getBounds() : gridsLayer.getBounds();
    if (frame.isValid()) map.fitBounds(frame, {maxZoom: 17});
  } catch (e) { /* offline without a cached copy: the form still works with an address or the device's position */ }
  loadBackdrop();
}

function loadBackdrop() {
  clearTimeout(backdropTimer);
  backdropTimer = setTimeout(async () => {
    if (map.getZoom() < 15) { backdrop.clearLayers(); return; }
    const b = map.getBounds(), c = b.getCenter(), half = 0.049;
    const box = [Math.max(b.getWest(), c.lng - half), Math.max(b.getSouth(), c.lat - half),
      Math.min(b.getEast(), c.lng + half), Math.min(b.getNorth(), c.lat + half)].map(v => v.toFixed(5));
    try {
      const r = await fetch(`/public/api/backdrop?bbox=${box.join(",")}&zoom=${Math.round(map.getZoom())}`);
      if (!r.ok) return;
      const layers = await r.json();
      backdrop.clearLayers();
      backdrop.addData(layers);
      backdrop.bringToBack();
    } catch (e) { /* keep what is shown */ }
  }, 250);
}
map.on("moveend", loadBackdrop);
map.on("click", e => setPoint(e.latlng.lat, e.latlng.lng, "map"));

function gridLabel(code) { return (code && state.gridNames.get(code)) || code || ""; }

function setPoint(lat, lon, source, accuracy) {
  state.point = {lat: +lat.toFixed(7), lon: +lon.toFixed(7), source, accuracy};
  const at = [lat, lon];
  if (marker) marker.setLatLng(at); else marker = L.marker(at, {interactive: false}).addTo(map);
  if (accuracyCircle) { accuracyCircle.remove(); accuracyCircle = null; }
  if (accuracy) accuracyCircle = L.circle(at, {radius: accuracy, color: "#1a73e8", weight: 1, fillOpacity: 0.1, interactive: false}).addTo(map);
  const how = {map: T("地图选点", "Tapped on the map"), gps: T("手机定位", "Device position"), address: T("地址", "Address")}[source];
  const extra = accuracy ? T(`,精度约 ±${Math.round(accuracy)} 米`, `, accuracy about ±${Math.round(accuracy)} m`) : "";
  place(`${how}${extra} · ${lat.toFixed(5)}, ${lon.toFixed(5)}`, "");
  lookupGrid(state.point);
}

function place(text, cls) { const p = $("place"); p.textContent = text; p.className = "place " + (cls || ""); }

async function lookupGrid(point) {
  const base = $("place").textContent;
  try {
    const r = await fetch(`${API.where}?lon=${point.lon}&lat=${point.lat}`);
    if (point !== state.point || !r.ok) return;
    const w = await r.json();
    if (w.status === "inside") place(`${base} · ${T("属于", "in")} ${w.grid_name || gridLabel(w.grid_code)}`, "");
    else if (w.status === "snapped") place(`${base} · ${T(`网格外 ${w.distance_m} 米,将归入最近的 ${w.grid_name || w.grid_code}`, `${w.distance_m} m outside the grids: goes to the nearest, ${w.grid_name || w.grid_code}`)}`, "warn");
    else if (w.status === "outside_coverage") place(`${base} · ${outsideText(w)}`, "bad");
    else place(`${base} · ${T("尚未发布网格方案", "no grid plan is published yet")}`, "bad");
  } catch (e) {
    if (point === state.point) place(`${base} · ${T("离线:网格将在同步后确定", "offline: the grid is found when it syncs")}`, "warn");
  }
}

function outsideText(w) {
  return T(`不在网格覆盖范围内:最近的网格 ${w.grid_name || w.grid_code} 距此 ${w.distance_m} 米`,
    `Outside the grids: the nearest, ${w.grid_name || w.grid_code}, is ${w.distance_m} m away`);
}

$("locate").addEventListener("click", () => {
  if (!navigator.geolocation) { place(T("此设备不能定位,请在地图上选点", "This device cannot locate: tap the map"), "bad"); return; }
  place(T("定位中…", "Locating…"), "");
  navigator.geolocation.getCurrentPosition(
    pos => { setPoint(pos.coords.latitude, pos.coords.longitude, "gps", pos.coords.accuracy); map.setView([pos.coords.latitude, pos.coords.longitude], 18); },
    err => place(T(`定位失败(${err.message}),请在地图上选点或输入地址`, `Could not locate (${err.message}): tap the map or type an address`), "bad"),
    {enableHighAccuracy: true, timeout: 15000, maximumAge: 30000});
});

// ---- the address box: suggestions from the gazetteer while typing -----------------------------------------------
let suggestTimer = null;
$("address").addEventListener("input", () => {
  clearTimeout(suggestTimer);
  const typed = $("address").value.trim();
  if (!typed) { $("suggestions").hidden = true; return; }
  suggestTimer = setTimeout(async () => {
    try {
      const r = await fetch(`${API.suggest}?q=${encodeURIComponent(typed)}&limit=8`);
      if (!r.ok || $("address").value.trim() !== typed) return;
      showSuggestions(await r.json());
    } catch (e) { $("suggestions").hidden = true; }
  }, 200);
});

function showSuggestions(items) {
  const list = $("suggestions");
  list.replaceChildren();
  for (const s of items) {
    const li = document.createElement("li");
    const kind = document.createElement("span");
    kind.className = "kind";
    kind.textContent = T(s.kind_zh, s.kind);
    li.append(kind, document.createTextNode(s.label));
    li.addEventListener("click", () => {
      $("address").value = s.label;
      list.hidden = true;
      setPoint(s.lat, s.lon, "address");
      map.setView([s.lat, s.lon], 18);
    });
    list.appendChild(li);
  }
  list.hidden = !items.length;
}

// ---- photos: from the camera, compressed on the phone (JPEG, long side ≤ 1600 px) ---------------------------------
const compress = file => gridmapCompressPhoto(file, MAX_SIDE);  // photos.js

$("photos").addEventListener("change", async () => {
  const files = [...$("photos").files];
  $("photos").value = "";
  for (const file of files) {
    if (state.photos.length >= MAX_PHOTOS) { say("warn", T(`最多 ${MAX_PHOTOS} 张照片`, `At most ${MAX_PHOTOS} photos`)); break; }
    try {
      const blob = await compress(file);
      state.photos.push({blob, url: URL.createObjectURL(blob)});
    } catch (e) { say("bad", T(`无法读取照片 ${file.name}`, `Could not read the photo ${file.name}`)); }
  }
  showThumbs();
});

function showThumbs() {
  const box = $("thumbs");
  box.replaceChildren();
  state.photos.forEach((p, i) => {
    const cell = document.createElement("div");
    cell.className = "thumb";
    const img = document.createElement("img");
    img.src = p.url;
    img.alt = T(`照片 ${i + 1}`, `Photo ${i + 1}`);
    const drop = document.createElement("button");
    drop.type = "button";
    drop.textContent = "×";
    drop.setAttribute("aria-label", T("删除照片", "Remove photo"));
    drop.addEventListener("click", () => { URL.revokeObjectURL(p.url); state.photos.splice(i, 1); showThumbs(); });
    cell.append(img, drop);
    box.appendChild(cell);
  });
}

// ---- sending: outbox first, then the server --------------------------------------------------------------------
function messageOf(data, status) {
  if (Array.isArray(data) && data[0] && data[0].description) return data[0].description;  // Open311 error list
  if (data && typeof data.detail === "string") return data.detail;
  if (data && Array.isArray(data.detail)) return data.detail.map(d => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
  return T(`提交失败(${status})`, `Refused (${status})`);
}

function bodyOf() {
  const cat = state.categories.find(c => c.code === state.category);
  const address = $("address").value.trim() || null;
  const description = $("description").value.trim() || null;
  const name = $("reporter-name").value.trim() || null, phone = $("reporter-phone").value.trim() || null;
  const p = state.point;
  const body = MODE === "staff"
    ? {category: state.category, description, lon: p && p.lon, lat: p && p.lat, coord_sys: "wgs84", address,
       reporter_name: name, reporter_phone: phone}
    : {service_code: state.category, description, long: p && p.lon, lat: p && p.lat, address_string: address,
       first_name: name, phone};
  for (const k of Object.keys(body)) if (body[k] === null || body[k] === undefined) delete body[k];
  return {body, label: cat ? T(cat.zh, cat.en || cat.zh) : state.category};
}

async function send(item) {
  if (state.inflight.has(item.key)) return {kind: "busy"};
  state.inflight.add(item.key);
  try { return await deliver(item); } finally { state.inflight.delete(item.key); }
}

async function deliver(item) {
  const wait = async why => { item.error = why; await gridmapOutbox.put(item); return {kind: "queued", why}; };
  if (!item.result) {
    let response;
    try {
      response = await fetch(item.mode === "staff" ? "/api/requests" : "/open311/v2/requests.json", {method: "POST",
        headers: {"Content-Type": "application/json", "Idempotency-Key": item.key}, body: JSON.stringify(item.body)});
    } catch (e) { return wait(T("没有网络", "No network")); }
    const data = await response.json().catch(() => null);
    if (response.status === 401) return wait(T("登录已过期:请重新登录,之后自动同步", "Signed out: sign in again and it syncs"));
    if (response.status >= 500 || response.status === 429 || response.status === 408) return wait(messageOf(data, response.status));
    if (!response.ok) return {kind: "refused", status: response.status, message: messageOf(data, response.status)};
    item.result = item.mode === "staff"
      ? {id: data.id, status: data.status, grid_code: data.grid_code, duplicate_of: data.duplicate_of}
      : {id: Number(data[0].service_request_id), notice: data[0].service_notice, track_url: data[0].track_url,
         token: data[0].rating_token};
    item.photoErrors = [];
    await gridmapOutbox.put(item);
  }
  while (item.photosDone < item.photos.length) {
    const form = new FormData();
    form.append("photo", item.photos[item.photosDone], `photo-${item.photosDone + 1}.jpg`);
    const url = item.mode === "staff" ? `/api/requests/${item.result.id}/photos` : `/public/api/requests/${item.result.id}/photos`;
    const headers = item.mode === "staff" ? {} : {"X-Request-Token": item.result.token};
    let response;
    try { response = await fetch(url, {method: "POST", body: form, headers}); } catch (e) { return wait(T("没有网络", "No network")); }
    if (response.status >= 500 || response.status === 401 || response.status === 429) {
      return wait(messageOf(await response.json().catch(() => null), response.status));
    }
    if (!response.ok) item.photoErrors.push(messageOf(await response.json().catch(() => null), response.status));
    item.photosDone += 1;
    await gridmapOutbox.put(item);
  }
  await gridmapOutbox.remove(item.key);
  return {kind: "stored", item};
}

function say(cls, ...parts) {
  const box = $("answer");
  box.replaceChildren(...parts.map(p => (typeof p === "string" ? document.createTextNode(p) : p)));
  box.className = "answer " + cls;
  box.hidden = false;
  box.scrollIntoView({block: "center", behavior: "smooth"});
}

function link(href, text) { const a = document.createElement("a"); a.href = href; a.textContent = text; return a; }
function line(...parts) { const p = document.createElement("p"); p.append(...parts); p.style.margin = ".2rem 0"; return p; }

function showStored(item) {
  const r = item.result, photos = item.photosDone - (item.photoErrors || []).length;
  const photoLine = item.photos.length ? line(T(`照片 ${photos}/${item.photos.length} 张已上传`, `${photos} of ${item.photos.length} photos uploaded`)
    + ((item.photoErrors || []).length ? `:${item.photoErrors.join("; ")}` : "")) : "";
  if (item.mode === "public") {
    const merged = r.notice && r.notice.includes("合并");
    say(merged ? "warn" : "ok",
      line(T(`已受理,编号 #${r.id}`, `Received: request #${r.id}`) + (merged ? T("(附近已有相同事件,已合并办理)", " (merged with the same open case nearby)") : "")),
      line(link(r.track_url, T("查看办理进度", "Track this request"))),
      line(T("请保存此链接:办结后可通过它评价。", "Keep this link: you can rate the request through it once it is done.")), photoLine);
    return;
  }
  if (r.status === "merged" && r.duplicate_of) {
    say("warn", line(T(`重复上报:附近已有未办结的相同事件,已合并到事件 #${r.duplicate_of}`, `A duplicate: merged into the open request #${r.duplicate_of} nearby`)),
      line(link(`/requests/${r.duplicate_of}`, T(`查看事件 #${r.duplicate_of}`, `Open request #${r.duplicate_of}`))),
      line(T(`本次上报编号 #${r.id}`, `This report is #${r.id}`)), photoLine);
    return;
  }
  say("ok", line(T(`已上报,编号 #${r.id},已派往 `, `Reported as #${r.id}, sent to `), strong(gridLabel(r.grid_code))),
    line(link(`/requests/${r.id}`, T("查看事件", "Open the request"))), photoLine);
}

function strong(text) { const b = document.createElement("strong"); b.textContent = text; b.className = "grid-answer"; return b; }

async function showRefused(result, body) {
  say("bad", line(T("未能上报:", "Not reported: ") + result.message));
  const lon = body.lon ?? body.long;
  if (/outside_coverage|outside coverage|in no grid/.test(result.message) && lon !== undefined) {
    try {
      const w = await (await fetch(`${API.where}?lon=${lon}&lat=${body.lat}`)).json();
      if (w.status === "outside_coverage") say("bad", line(T("未能上报:", "Not reported: ") + outsideText(w)),
        line(T("请在网格范围内重新选点。", "Choose a point inside the grids.")));
    } catch (e) { /* the server's own message stays */ }
  }
}

function resetForm() {
  state.category = null; state.point = null;
  for (const p of state.photos) URL.revokeObjectURL(p.url);
  state.photos = [];
  for (const id of ["description", "address", "reporter-name", "reporter-phone"]) $(id).value = "";
  if (marker) { marker.remove(); marker = null; }
  if (accuracyCircle) { accuracyCircle.remove(); accuracyCircle = null; }
  place(T("在地图上点一下选择位置", "Tap the map to choose the place"), "");
  showTiles(); showThumbs();
}

$("submit").addEventListener("click", async () => {
  if (!state.category) { say("bad", T("请先选择类别", "Choose a category first")); return; }
  if (!state.point && !$("address").value.trim()) {
    say("bad", T("请选择位置:手机定位、在地图上点选,或输入地址", "Choose the place: your location, a tap on the map, or an address"));
    return;
  }
  const {body, label} = bodyOf();
  const item = {key: gridmapOutbox.newKey(), mode: MODE, body, label, photos: state.photos.map(p => p.blob),
    photosDone: 0, createdAt: new Date().toISOString(), state: "pending"};
  $("submit").disabled = true;
  try {
    await gridmapOutbox.put(item);
    if (typeof gridmapPatrol !== "undefined") await gridmapPatrol.noteReport(item.key);  // made during a patrol: linked to it
    const result = await send(item);
    if (result.kind === "refused") {
      await gridmapOutbox.remove(item.key);  // the reporter is here to correct it: the form keeps what was entered
      await showRefused(result, body);
    } else {
      resetForm();
      if (result.kind === "stored") showStored(result.item);
      else say("warn", T("没有网络:已保存在手机上(待同步),网络恢复后自动提交。", "No network: kept on this phone (waiting to sync); it is sent when the network returns."));
    }
  } finally {
    $("submit").disabled = false;
    showOutbox();
  }
});

// ---- the outbox: listed as 待同步, sent when the network returns -----------------------------------------------------
async function showOutbox() {
  const items = (await gridmapOutbox.all()).filter(i => i.mode === MODE);
  const list = $("outbox");
  list.replaceChildren();
  for (const item of items) {
    const li = document.createElement("li");
    li.dataset.key = item.key;
    const badge = document.createElement("span");
    badge.className = "state" + (item.state === "failed" ? " failed" : "");
    badge.textContent = item.state === "failed" ? T("未能提交", "Refused") : T("待同步", "Waiting to sync");
    const what = document.createElement("span");
    what.className = "what";
    const when = new Date(item.createdAt);
    what.textContent = `${item.label} · ${when.toLocaleString(lang === "en" ? "en" : "zh-CN")}` + (item.photos.length ? T(` · ${item.photos.length} 张照片`, ` · ${item.photos.length} photos`) : "");
    li.append(badge, what);
    if (item.state === "failed") {
      const why = document.createElement("span");
      why.className = "why";
      why.textContent = item.error || "";
      const drop = document.createElement("button");
      drop.type = "button";
      drop.textContent = T("删除", "Delete");
      drop.addEventListener("click", async () => { await gridmapOutbox.remove(item.key); showOutbox(); });
      li.append(drop, why);
    }
    list.appendChild(li);
  }
  $("outbox-empty").hidden = items.length > 0;
  $("sync").hidden = !items.some(i => i.state !== "failed");
}

let syncing = null;
function syncAll() {
  if (!syncing) syncing = syncOnce().finally(() => { syncing = null; showOutbox(); });
  return syncing;
}

async function syncOnce() {
  for (const item of await gridmapOutbox.all()) {
    if (item.mode !== MODE || item.state === "failed") continue;
    const result = await send(item);
    if (result.kind === "queued") break;  // still no network (or signed out): try again later
    if (result.kind === "refused") {
      item.state = "failed"; item.error = result.message;
      await gridmapOutbox.put(item);
    } else if (result.kind === "stored") showStored(result.item);
  }
}

function showNet() {
  const net = $("net");
  net.textContent = navigator.onLine ? T("在线", "Online") : T("离线", "Offline");
  net.className = "net" + (navigator.onLine ? "" : " offline");
}
window.addEventListener("online", () => { showNet(); syncAll(); });
window.addEventListener("offline", showNet);
$("sync").addEventListener("click", () => syncAll());
setInterval(() => { if (navigator.onLine) syncAll(); }, 20000);

showNet();
loadCategories();
loadMap();
showOutbox().then(() => { if (navigator.onLine) syncAll(); });
