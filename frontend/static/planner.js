// Planner: move buildings (or whole compounds) between grids, lock, split, merge, re-run, undo, publish.
// Every edit goes to the JSON API, which refuses edits that break contiguity or cross a barrier.
const EN = {title: "Grid planning", home: "Home", diff: "Compare with published", export: "Export: ", exportXlsx: "Grid ledger (Excel)", newDraft: "New draft from published",
  undo: "Undo", rerun: "Re-partition unlocked grids", publish: "Publish as new version", compoundMode: "Pick whole compounds",
  hint: "Click buildings (several allowed), then click the target grid to move them; click a grid to lock, split or merge it.",
  metrics: "Plan metrics", below: "Too few households", inband: "In band", above: "Too many households", clear: "Clear selection",
  forced: "Out of band because the rules force it", plans: "Plan versions"};
const lang = gridmapI18n(EN);
const T = (zh, en) => (lang === "en" ? en : zh);
const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7", "#9c755f", "#bab0ac", "#e15759"];
const map = L.map("map", {zoomSnap: 0.25});
map.attributionControl.setPrefix(false);
map.attributionControl.addAttribution("© OpenStreetMap contributors");
let plan = null, band = {min: 240, max: 360}, gridsLayer = null, buildingsLayer = null, labels = L.layerGroup().addTo(map);
let buildings = null, selected = new Set(), mergeFrom = null, busy = false, readonly = false;
fetch("/api/map-config").then(r => r.json()).then(c => { if (c.tiles) L.tileLayer(c.tiles, {maxZoom: 19}).addTo(map).bringToBack(); });

async function api(method, url, body) {
  const response = await fetch(url, {method, headers: body ? {"Content-Type": "application/json"} : {}, body: body ? JSON.stringify(body) : undefined});
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.detail ? (typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail)) : response.statusText);
  return data;
}
// A GeoJSON layer comes in pages (numberMatched, links rel=next): fetch them all, saying how far it has got.
async function layer(url, what) {
  const all = await api("GET", url);
  for (let page = all, next; (next = (page.links || []).find(l => l.rel === "next"));) {
    say(T(`正在加载${what[0]} ${all.features.length}/${all.numberMatched}…`, `Loading ${what[1]} ${all.features.length}/${all.numberMatched}…`), true);
    page = await api("GET", next.href);
    all.features.push(...page.features);
  }
  return all;
}
layer("/api/streets", ["道路", "streets"]).then(s => L.geoJSON(s, {interactive: false,
  style: f => ({color: f.properties.is_barrier ? "#5f6368" : "#bdc1c6", weight: f.properties.is_barrier ? 3 : 1.2})}).addTo(map));
function say(text, ok) { const m = document.getElementById("message"); m.textContent = text; m.className = ok ? "ok" : "err"; }
function colour(code) { let h = 0; for (const c of code || "") h = (h * 31 + c.charCodeAt(0)) >>> 0; return PALETTE[h % PALETTE.length]; }
function bandColour(h) { return h < band.min ? "#1a73e8" : h > band.max ? "#d93025" : "#188038"; }

async function run(label, fn) {
  if (busy) return; busy = true; document.body.style.cursor = "wait";
  try { const out = await fn(); if (out && out.metrics) showMetrics(out.metrics);
        say(label + (out && out.warnings && out.warnings.length ? " · " + out.warnings.join("; ") : ""), true); }
  catch (e) { say(e.message, false); }
  finally { busy = false; document.body.style.cursor = ""; }
}

function showMetrics(m) {
  const rows = [[T("网格数", "Grids"), m.grids + " / " + m.expected_grids], [T("在区间内占比", "In band"), (m.in_band_share * 100).toFixed(1) + "%"],
    [T("可达区间内占比", "In band where sizes allow"), ((m.in_band_share_feasible ?? m.in_band_share) * 100).toFixed(1) + "%"],
    [T("最大偏差", "Max deviation"), m.max_abs_deviation_pct + "%"], [T("户数", "Households"), m.households],
    [T("规则冲突", "Rule violations"), (m.violations || []).length]];
  const body = document.querySelector("#metrics tbody"); body.innerHTML = "";
  for (const [k, v] of rows) { const tr = body.insertRow(); tr.insertCell().textContent = k; tr.insertCell().textContent = v; }
  const list = document.getElementById("violations"); list.innerHTML = "";
  for (const v of m.violations || []) {
    const li = document.createElement("li");
    li.textContent = `${T(...(RULES[v.rule] || [v.rule, v.rule]))}${v.grid ? " · " + v.grid : ""}: ${v.detail}`; list.appendChild(li);
  }
  const forced = document.getElementById("forced"); forced.innerHTML = "";
  // Each note in the page's language; a plan saved before notes had both languages carries only both at once.
  const notes = m.notes ? m.notes.map(n => `${n.grid}: ${T(n.zh, n.en)}`) : (m.infeasible || []);
  for (const line of notes) { const li = document.createElement("li"); li.textContent = line; forced.appendChild(li); }
}
const RULES = {size: ["户数超出区间", "size"], barrier: ["跨越主干道/铁路/河流", "crosses a barrier"], contiguity: ["不连通", "not contiguous"],
  compound: ["小区被拆分", "compound split"], tiling: ["覆盖不完整", "tiling"], assignment: ["楼栋未分配", "unassigned"],
  single_polygon: ["边界不止一块", "not one polygon"]};
const STATUS = {draft: ["草稿", "Draft"], published: ["现行方案", "Published"], archived: ["已归档", "Archived"]};

function renderPlans(plans) {
  const list = document.getElementById("plans"); list.innerHTML = "";
  for (const p of plans.filter(q => q.status !== "archived").concat(plans.filter(q => q.status === "archived").slice(0, 5))) {
    const li = document.createElement("li"); li.dataset.planId = p.id;
    if (plan && p.id === plan.id) li.className = "current";
    const title = document.createElement("div"); title.textContent = `${T(...STATUS[p.status])} v${p.version} · ${p.name}`;
    const meta = document.createElement("div"); meta.className = "meta";
    const when = new Date(p.created_at).toLocaleString(lang === "en" ? "en" : "zh-CN", {timeZone: "Asia/Shanghai"});
    meta.textContent = p.status === "draft"
      ? T(`基于 v${p.base_version ?? "—"} · ${p.created_by || "—"} · ${when} · 变动 ${p.changed_buildings} 栋 / ${p.changed_grids} 格`,
          `from v${p.base_version ?? "—"} · ${p.created_by || "—"} · ${when} · ${p.changed_buildings} buildings / ${p.changed_grids} grids changed`)
      : T(`发布于 ${p.published_at ? new Date(p.published_at).toLocaleString("zh-CN", {timeZone: "Asia/Shanghai"}) : "—"}`, `published ${p.published_at || "—"}`);
    li.append(title, meta);
    const add = (label, cls, fn) => { const b = document.createElement("button"); b.textContent = label; b.className = cls; b.onclick = fn; li.appendChild(b); };
    add(T("打开", "Open"), "open", () => choosePlan(p.id));
    if (p.status === "draft") {
      add(T("重命名", "Rename"), "rename", () => { const name = prompt(T("新名称", "New name"), p.name);
        if (name) run(T("已重命名", "Renamed"), async () => { await api("PATCH", `/api/plans/${p.id}`, {name}); await choosePlan(plan && plan.id); }); });
      add(T("删除", "Delete"), "delete", () => { if (confirm(T(`删除草稿 v${p.version}?`, `Delete draft v${p.version}?`)))
        run(T("已删除", "Deleted"), async () => { await api("DELETE", `/api/plans/${p.id}`); await choosePlan(plan && plan.id !== p.id ? plan.id : undefined); }); });
    }
    list.appendChild(li);
  }
}

function showSelection() {
  const hh = buildings.features.filter(f => selected.has(f.properties.building_id)).reduce((s, f) => s + f.properties.households, 0);
  document.getElementById("selection").textContent = selected.size ? T(`已选 ${selected.size} 栋,${hh} 户 — 点击目标网格`, `${selected.size} buildings, ${hh} households selected — click the target grid`) : "";
  buildingsLayer.setStyle(styleBuilding);
}
function styleBuilding(f) {
  const on = selected.has(f.properties.building_id);
  return {fillColor: on ? "#fbbc04" : colour(f.properties.grid_code), color: on ? "#b06000" : "#3c4043", weight: on ? 2 : 0.5, fillOpacity: 0.9};
}

function gridInfo(p) {
  const box = document.getElementById("grid-info");
  box.innerHTML = `<h3>${T("网格", "Grid")} ${escapeHtml(p.grid_code)}</h3><p>${T("户数", "Households")}: <b>${escapeHtml(p.households)}</b> · ${T("楼栋", "Buildings")}: ${escapeHtml(p.n_buildings)}${p.locked ? " · 🔒" : ""}</p>`;
  const add = (label, fn) => { const b = document.createElement("button"); b.textContent = label; b.onclick = fn; box.appendChild(b); };
  add(p.locked ? T("解锁", "Unlock") : T("锁定", "Lock"), () => run(T("已更新锁定", "Lock updated"), async () => {
    await api("PUT", `/api/plans/${plan.id}/grids/${p.grid_code}/lock`, {locked: !p.locked}); await load(); }));
  add(T("拆分为两个", "Split in two"), () => run(T("已拆分", "Split"), async () => { const out = await api("POST", `/api/plans/${plan.id}/grids/${p.grid_code}/split`); await load(); return out; }));
  add(T("合并到…(再点目标网格)", "Merge into… (click target)"), () => { mergeFrom = p.grid_code; say(T("请点击要并入的相邻网格", "Click the neighbouring grid to merge into"), true); });
}

async function clickGrid(p) {
  if (readonly) { gridInfo(p); return; }
  if (selected.size) {
    const ids = [...selected];
    await run(T(`已移动 ${ids.length} 栋到 ${p.grid_code}`, `Moved ${ids.length} buildings to ${p.grid_code}`), async () => {
      const out = await api("POST", `/api/plans/${plan.id}/moves`, {building_ids: ids, to_grid: p.grid_code}); selected.clear(); await load(); return out; });
  } else if (mergeFrom && mergeFrom !== p.grid_code) {
    const from = mergeFrom; mergeFrom = null;
    await run(T(`已将 ${from} 并入 ${p.grid_code}`, `Merged ${from} into ${p.grid_code}`), async () => {
      const out = await api("POST", `/api/plans/${plan.id}/merge`, {from_grid: from, into_grid: p.grid_code}); await load(); return out; });
  } else gridInfo(p);
}

function clickBuilding(f) {
  if (readonly) return;
  const ids = document.getElementById("compound-mode").checked && f.properties.compound_id
    ? buildings.features.filter(g => g.properties.compound_id === f.properties.compound_id).map(g => g.properties.building_id)
    : [f.properties.building_id];
  const on = !selected.has(f.properties.building_id);
  for (const id of ids) on ? selected.add(id) : selected.delete(id);
  showSelection();
}

async function load(fit) {
  const [grids, homes] = await Promise.all([layer(`/api/plans/${plan.id}/grids`, ["网格", "grids"]), layer(`/api/plans/${plan.id}/buildings`, ["楼栋", "buildings"])]);
  buildings = homes;
  if (gridsLayer) gridsLayer.remove(); if (buildingsLayer) buildingsLayer.remove(); labels.clearLayers();
  gridsLayer = L.geoJSON(grids, {
    style: f => ({fillColor: bandColour(f.properties.households), fillOpacity: 0.18, color: "#202124", weight: f.properties.locked ? 4 : 1.5, dashArray: f.properties.locked ? "8 4" : null}),
    onEachFeature: (f, layer) => { layer.on("click", () => clickGrid(f.properties)); layer.bindTooltip(escapeHtml(`${f.properties.grid_code} · ${f.properties.households} ${T("户", "hh")}`), {sticky: true});
      const c = layer.getBounds().getCenter(); labels.addLayer(L.marker(c, {interactive: false, icon: L.divIcon({className: "grid-tag", html: `${escapeHtml(gridmapCodes.label(f.properties.grid_code))}<br>${escapeHtml(f.properties.households)}`})})); },
  }).addTo(map);
  buildingsLayer = L.geoJSON(homes, {style: styleBuilding, onEachFeature: (f, layer) => {
    layer.on("click", e => { L.DomEvent.stopPropagation(e); clickBuilding(f); });
    layer.bindTooltip(escapeHtml(`${f.properties.name || T("楼栋", "Building")} · ${f.properties.households} ${T("户", "hh")} · ${f.properties.grid_code || T("未分配", "unassigned")}`)); }}).addTo(map);
  if (fit) map.fitBounds(gridsLayer.getBounds());
  document.querySelector("[data-i18n=metrics]").dataset.count = grids.features.length;
  showSelection();
}

async function choosePlan(id) {
  const plans = await api("GET", "/api/plans");
  plan = plans.find(p => p.id === id) || plans.find(p => p.status === "draft") || plans.find(p => p.status === "published") || null;
  selected.clear(); mergeFrom = null;
  renderPlans(plans);
  const line = document.getElementById("plan-line");
  if (!plan) { line.textContent = T("还没有网格方案:请先运行自动划分。", "No plan yet: run the partitioner first."); return; }
  readonly = plan.status !== "draft";
  for (const id of ["undo", "rerun", "publish"]) document.getElementById(id).disabled = readonly;
  line.innerHTML = readonly
    ? `${T(...STATUS[plan.status])}${T("(只读)", " (read-only)")} <b>v${escapeHtml(plan.version)}</b> — ${T("新建草稿后即可编辑", "create a draft to edit")}`
    : `${T("草稿", "Draft")} <b>v${escapeHtml(plan.version)}</b> · ${escapeHtml(plan.name)}`;
  document.getElementById("diff").href = `/maps/plan-diff?plan_id=${plan.id}`;
  for (const fmt of ["xlsx", "gpkg", "geojson"]) document.getElementById(`export-${fmt}`).href = `/api/plans/${plan.id}/export.${fmt}`;
  showMetrics(plan.metrics); await load(true);
}

document.getElementById("new-draft").onclick = () => run(T("已新建草稿", "Draft created"), async () => { const d = await api("POST", "/api/plans/drafts"); await choosePlan(d.id); });
document.getElementById("clear-selection").onclick = () => { selected.clear(); mergeFrom = null; showSelection(); say(T("已清除选择", "Selection cleared"), true); };
document.getElementById("undo").onclick = () => run(T("已撤销", "Undone"), async () => { const out = await api("POST", `/api/plans/${plan.id}/undo`); await load(); return out; });
document.getElementById("rerun").onclick = () => run(T("已重新划分", "Re-partitioned"), async () => { const m = await api("POST", `/api/plans/${plan.id}/repartition`, {}); await load(); return {metrics: m}; });
const REASONS = {new: ["新网格", "new grid"], changed: ["变动较大", "changed a lot"], removed: ["已撤销", "removed"]};
function handoverText(h) {
  const lines = h.needs_staffing.slice(0, 15).map(c => `${c.grid_code} ${T(...REASONS[c.reason])}` +
    (c.workers.length ? ` (${T("现网格员", "worker")}: ${c.workers.join("、")})` : ""));
  if (h.needs_staffing.length > 15) lines.push(T(`…共 ${h.needs_staffing.length} 个`, `… ${h.needs_staffing.length} in all`));
  const head = h.needs_staffing.length
    ? T(`${h.needs_staffing.length} 个网格需重新配备网格员:`, `${h.needs_staffing.length} grids need staffing:`) : T("所有网格员保持原网格。", "Every grid worker keeps the grid.");
  return [head, ...lines, T(`${h.requests_moving} 件在办诉求将按位置转入新网格。`, `${h.requests_moving} open requests move to their new grid.`),
    T("发布后该草稿成为现行网格方案,确定?", "Publish this draft as the plan in force?")].join("\n");
}
document.getElementById("publish").onclick = () => run(T("已发布", "Published"), async () => {
  const h = await api("GET", `/api/plans/${plan.id}/handover`);
  if (!confirm(handoverText(h))) return;
  const p = await api("POST", `/api/plans/${plan.id}/publish`, {confirm: true}); await choosePlan(p.id); return {metrics: p.metrics}; });
choosePlan().catch(e => say(e.message, false));
