// One request's page: what it is, where, its time limits and trail, and the 五单 buttons the signed-in user may press.
// Every text from the server goes in through textContent; the buttons are the `actions` the detail API returns.
const lang = gridmapI18n({
  back: "Workbench", title: "Request", actions: "Actions", noActions: "Nothing for you to do on this request now",
  department: "Department", target: "Merge into (grey dots on the map are open requests nearby)", stars: "The resident's rating",
  afterPhoto: "Photos after the work (one or more)", cancel: "Cancel", sla: "Time limits", reporter: "Reporter", trail: "Trail",
});
const T = (zh, en) => (lang === "en" ? en : zh);
const requestId = Number(location.pathname.split("/").filter(Boolean).pop());
const $ = id => document.getElementById(id);
let state = null, names = {statuses: {}, actions: {}, roles: {}}, departments = null, formAction = null, map = null, layers = null;

// Buttons with their form: which fields an action needs; "!" marks a required reason.
const FORMS = {
  dispatch: {fields: ["department"], reason: ["派单说明（可选）", "Note (optional)"]},
  return: {reason: ["退单原因（必填）", "Why it is returned (required)"], required: true},
  resolve: {fields: ["photo"], reason: ["办结说明（必填）", "What was done (required)"], required: true},
  reject: {reason: ["核查不通过的原因（必填）", "Why the check failed (required)"], required: true},
  close: {reason: ["结案说明（必填，如：回访未接通）", "Why it is closed without a rating (required)"], required: true},
  callback: {fields: ["stars"], reason: ["居民的意见（可选）", "What the resident said (optional)"]},
  merge: {fields: ["target"], reason: ["合并说明（必填）", "Why (required)"], required: true, value: "重复上报"},
};
const TRIAGE = [
  {size: "small", zh: "分单 · 小事回网格", en: "Triage · small: back to the grid"},
  {size: "big", zh: "分单 · 大事报街道", en: "Triage · big: to the street"},
];
const STAGES = [["respond", "响应", "Respond"], ["accept", "接单", "Accept"], ["resolve", "办结", "Resolve"]];
const TIME = new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "zh-CN", {
  timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false,
});

const when = iso => (iso ? TIME.format(new Date(iso)) : "—");
const named = (table, code) => (names[table][code] ? names[table][code][lang === "en" ? "en" : "zh"] : code);
const actionName = code => named("actions", code);

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function duration(ms) {
  const minutes = Math.round(ms / 60000);
  if (minutes < 60) return T(`${minutes} 分钟`, `${minutes} min`);
  const hours = Math.round(minutes / 60);
  if (hours < 48) return T(`${hours} 小时`, `${hours} h`);
  const days = Math.round(hours / 24);
  return T(`${days} 天`, `${days} days`);
}

// The API says "中文 / English": the English half on the English page.
const inLanguage = message => (lang === "en" && message.includes(" / ") ? message.slice(message.indexOf(" / ") + 3) : message);

async function errorText(response) {
  try {
    const body = await response.json();
    if (typeof body.detail === "string") return inLanguage(body.detail);
    if (Array.isArray(body.detail)) return body.detail.map(d => d.msg).join("; ");
  } catch (e) { /* not JSON */ }
  return T(`操作失败（${response.status}）`, `failed (${response.status})`);
}

async function load() {
  const response = await fetch(`/api/requests/${requestId}`);
  if (!response.ok) {
    $("load-error").textContent = await errorText(response);
    $("load-error").hidden = false;
    return;
  }
  state = await response.json();
  render();
}

// One action: on a refusal (someone else acted first) show the server's reason and reload the request's state.
async function send(body) {
  $("action-error").textContent = "";
  const response = await fetch(`/api/requests/${requestId}/actions`, {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  });
  if (!response.ok) {
    const message = await errorText(response);
    closeForm();
    await load();
    $("action-error").textContent = message;
    return false;
  }
  state = await response.json();
  closeForm();
  render();
  return true;
}

async function uploadPhotos(files) {
  for (const file of files) {
    const data = new FormData();
    data.append("photo", file);
    const response = await fetch(`/api/requests/${requestId}/photos`, {method: "POST", body: data});
    if (!response.ok) return errorText(response);
  }
  return null;
}

function render() {
  document.title = `#${state.id} ${state.category_name} · gridmap`;
  $("category").textContent = lang === "en" ? state.category_name_en : state.category_name;
  const chip = $("status");
  chip.textContent = named("statuses", state.status);
  chip.className = `chip status-${state.status}`;
  const meta = [`#${state.id}`, T("上报于 ", "reported ") + when(state.created_at)];
  if (state.grid_code) meta.push(T("网格 ", "grid ") + state.grid_code);
  if (state.department) meta.push(state.department);
  if (state.report_count > 1) meta.push(T(`${state.report_count} 次上报`, `${state.report_count} reports`));
  $("meta").textContent = meta.join(" · ");
  $("description").textContent = state.description || T("（无描述）", "(no description)");
  const point = state.lat !== null ? `${state.lat.toFixed(5)}, ${state.lon.toFixed(5)}` : "";
  $("place").textContent = [state.address || state.place_name, point].filter(Boolean).join(" · ");
  renderPhotos();
  renderActions();
  renderSla();
  renderReporter();
  renderTrail();
  renderMap();
}

function renderPhotos() {
  const box = $("photos");
  box.replaceChildren();
  const byUrl = {};
  for (const e of state.events) if (e.action === "photo" && e.data.photo) byUrl[e.data.photo] = e;
  for (const url of state.photos) {
    const figure = element("figure");
    const img = element("img");
    img.src = url;
    img.alt = T("诉求照片", "photo");
    img.loading = "lazy";
    img.addEventListener("click", () => { $("lightbox-img").src = url; $("lightbox").showModal(); });
    const e = byUrl[url];
    const caption = e ? `${named("statuses", e.to)} · ${e.actor_name} · ${when(e.at)}` : T("上报时", "at report");
    figure.append(img, element("figcaption", caption));
    box.append(figure);
  }
}

function renderActions() {
  const box = $("actions");
  box.replaceChildren();
  for (const action of state.actions) {
    if (action === "triage") {
      for (const t of TRIAGE) box.append(button(`act-triage-${t.size}`, T(t.zh, t.en), () => send({action, size: t.size})));
    } else if (FORMS[action]) {
      box.append(button(`act-${action}`, actionName(action), () => openForm(action)));
    } else {
      box.append(button(`act-${action}`, actionName(action), () => send({action})));
    }
  }
  $("no-actions").hidden = state.actions.length > 0;
}

function button(id, label, onClick) {
  const b = element("button", label, "act");
  b.type = "button";
  b.id = id;
  b.addEventListener("click", async () => {
    document.querySelectorAll("button.act").forEach(x => { x.disabled = true; });
    try { await onClick(); } finally { document.querySelectorAll("button.act").forEach(x => { x.disabled = false; }); }
  });
  return b;
}

async function openForm(action) {
  const spec = FORMS[action], fields = spec.fields || [];
  formAction = action;
  $("form-title").textContent = actionName(action);
  $("form-submit").textContent = T("确认", "Confirm ") + actionName(action);
  $("form-error").textContent = "";
  $("reason-field").hidden = false;
  $("reason-label").textContent = T(spec.reason[0], spec.reason[1]);
  $("reason").value = spec.value || "";
  $("reason").required = Boolean(spec.required);
  $("photo-field").hidden = !fields.includes("photo");
  $("photo").value = "";
  $("department-field").hidden = !fields.includes("department");
  $("target-field").hidden = !fields.includes("target");
  $("stars-field").hidden = !fields.includes("stars");
  if (fields.includes("department")) await fillDepartments();
  if (fields.includes("target")) fillTargets();
  if (fields.includes("stars")) fillStars();
  $("action-form").hidden = false;
  $("reason").focus();
}

function closeForm() {
  formAction = null;
  $("action-form").hidden = true;
}

async function fillDepartments() {
  if (!departments) departments = await fetch("/api/departments").then(r => (r.ok ? r.json() : []));
  const select = $("department");
  select.replaceChildren();
  for (const d of departments) {
    const option = element("option", d.categories.length ? `${d.name}（${d.categories.join("、")}）` : d.name);
    option.value = d.name;
    option.selected = d.name === state.department;
    select.append(option);
  }
}

function fillTargets() {
  const select = $("target");
  select.replaceChildren();
  for (const t of state.merge_targets) {
    const option = element("option", `#${t.id} ${t.category_name} · ${named("statuses", t.status)} · ${Math.round(t.distance_m)} m`);
    option.value = String(t.id);
    select.append(option);
  }
}

function fillStars() {
  const box = $("stars-field");
  box.querySelectorAll("label").forEach(l => l.remove());
  for (let n = 5; n >= 1; n -= 1) {
    const label = element("label", null, "star");
    const input = element("input");
    input.type = "radio";
    input.name = "stars";
    input.value = String(n);
    input.required = true;
    label.append(input, element("span", "★".repeat(n)));
    box.append(label);
  }
}

$("action-form").addEventListener("submit", async event => {
  event.preventDefault();
  const action = formAction, spec = FORMS[action], fields = spec.fields || [];
  const reason = $("reason").value.trim();
  if (spec.required && !reason) { $("form-error").textContent = T("请填写", "Please fill in: ") + $("reason-label").textContent; return; }
  const body = {action};
  if (reason) body.reason = reason;
  if (fields.includes("department")) body.department = $("department").value;
  if (fields.includes("target")) body.duplicate_of = Number($("target").value);
  if (fields.includes("stars")) {
    const checked = document.querySelector("input[name=stars]:checked");
    if (!checked) { $("form-error").textContent = T("请选择星级", "Choose the stars"); return; }
    body.stars = Number(checked.value);
  }
  $("form-submit").disabled = true;
  try {
    if (fields.includes("photo") && $("photo").files.length) {
      const failed = await uploadPhotos($("photo").files);
      if (failed) { $("form-error").textContent = failed; return; }
    }
    await send(body);
  } finally {
    $("form-submit").disabled = false;
  }
});
$("form-cancel").addEventListener("click", closeForm);
$("lightbox").addEventListener("click", () => $("lightbox").close());

function renderSla() {
  const body = $("sla");
  body.replaceChildren();
  const now = new Date(state.now);
  const starts = {respond: state.created_at, accept: state.dispatched_at, resolve: state.created_at};
  for (const [key, zh, en] of STAGES) {
    const stage = state.sla[key], tr = body.insertRow();
    tr.insertCell().textContent = T(zh, en);
    tr.insertCell().textContent = stage.due ? T("时限 ", "due ") + when(stage.due) : "—";
    const cell = tr.insertCell();
    if (!stage.due) {
      cell.textContent = T("未开始", "not started");
    } else if (stage.done_at) {
      cell.textContent = (stage.overdue ? T("超时完成 ", "late, done ") : T("按时完成 ", "on time, done ")) + when(stage.done_at);
      cell.className = stage.overdue ? "late" : "ok";
    } else if (["closed", "merged"].includes(state.status)) {
      cell.textContent = named("statuses", state.status);
    } else {
      const left = new Date(stage.due) - now, total = new Date(stage.due) - new Date(starts[key]);
      cell.textContent = left < 0 ? T(`已超时 ${duration(-left)}`, `overdue by ${duration(-left)}`) : T(`剩余 ${duration(left)}`, `${duration(left)} left`);
      cell.className = left < 0 ? "late" : left < 0.25 * total ? "soon" : "";
    }
  }
}

function renderReporter() {
  const box = $("reporter");
  box.replaceChildren();
  const channel = {staff: T("工作人员上报", "reported by staff"), open311: T("居民上报", "reported by a resident"), simulated: T("模拟数据", "simulated")};
  box.append(element("span", state.reporter_name || T("未留姓名", "no name")), " · ");
  const phone = element("span", state.reporter_phone || T("未留电话", "no phone"));
  phone.id = "reporter-phone";
  box.append(phone);
  if (state.reporter_phone_revealable) box.append(" ", revealForm(phone));
  box.append(" · ", element("span", channel[state.channel] || state.channel, "muted"));
  if (state.rating) {
    const source = state.rating_source === "callback" ? T("回访", "call-back") : T("居民评单", "resident's rating");
    box.append(element("p", `${T("评价", "Rating")}：${"★".repeat(state.rating)}（${source}）`));
  }
}

// 查看完整号码: the whole number for those who call back, after they give a reason (the server logs the reveal).
function revealForm(phone) {
  const open = element("button", T("查看完整号码", "Show the whole number"));
  open.type = "button";
  open.id = "reveal-phone";
  const form = element("form", null, "reveal-form");
  form.hidden = true;
  const reason = element("input");
  Object.assign(reason, {id: "reveal-reason", required: true, minLength: 2, maxLength: 500, value: T("回访居民", "call-back")});
  reason.setAttribute("aria-label", T("查看原因（必填，将被记录）", "Reason (required, logged)"));
  const go = element("button", T("查看（将被记录）", "Show (logged)"));
  go.type = "submit";
  const error = element("span", "", "error");
  form.append(reason, go, error);
  open.addEventListener("click", () => { open.hidden = true; form.hidden = false; reason.select(); });
  form.addEventListener("submit", async e => {
    e.preventDefault();
    error.textContent = "";
    const response = await fetch(`/api/requests/${requestId}/reporter-phone`, {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({reason: reason.value}),
    });
    if (!response.ok) { error.textContent = await errorText(response); return; }
    const shown = await response.json();
    const call = element("a", shown.phone);
    call.href = `tel:${shown.phone}`;
    call.id = "reporter-phone";
    phone.replaceWith(call);
    open.remove();
    form.remove();
  });
  const wrap = element("span");
  wrap.append(open, form);
  return wrap;
}

function renderTrail() {
  const list = $("trail");
  list.replaceChildren();
  for (const e of state.events) {
    const li = element("li");
    const head = element("div", null, "trail-head");
    head.append(element("b", lang === "en" ? e.action_name_en : e.action_name), " ", element("span", `→ ${named("statuses", e.to)}`, "muted"));
    const who = element("div", `${e.actor_name} · ${named("roles", e.actor_role)} · ${when(e.at)}`, "muted");
    li.append(head, who);
    const details = [];
    if (e.data.stars) details.push("★".repeat(e.data.stars));
    if (e.data.size) details.push(e.data.size === "big" ? T("大事报街道", "big") : T("小事回网格", "small"));
    if (e.data.department && e.action === "dispatch") details.push(T("派往 ", "to ") + e.data.department);
    if (e.data.duplicate_of) details.push(T("合并到 #", "into #") + e.data.duplicate_of);
    if (details.length) li.append(element("div", details.join(" · ")));
    if (e.reason) li.append(element("div", e.reason, "reason"));
    list.append(li);
  }
}

async function renderMap() {
  if (state.lat === null) { $("map").hidden = true; return; }
  if (!map) {
    map = L.map("map", {scrollWheelZoom: false});
    map.attributionControl.setPrefix(false);
    map.attributionControl.addAttribution("© OpenStreetMap contributors");
    layers = L.layerGroup().addTo(map);
    const config = await fetch("/api/map-config").then(r => (r.ok ? r.json() : {}));
    if (config.tiles) L.tileLayer(config.tiles, {maxZoom: 19}).addTo(map);
  }
  layers.clearLayers();
  const here = [state.lat, state.lon];
  let bounds = L.latLngBounds([here, here]);
  if (state.grid_geometry) {
    const grid = L.geoJSON(state.grid_geometry, {style: {color: "#c62828", weight: 2, fillOpacity: 0.06}, interactive: false});
    grid.addTo(layers);
    bounds = grid.getBounds();
  }
  for (const t of state.merge_targets) {
    const dot = L.circleMarker([t.lat, t.lon], {radius: 7, color: "#fff", weight: 1.5, fillColor: "#5f6368", fillOpacity: 0.9});
    // Leaflet puts a string tooltip in as HTML: give it a node made with textContent instead
    dot.bindTooltip(element("span", `#${t.id} ${t.category_name} · ${named("statuses", t.status)}`));
    dot.on("click", () => {
      if (!state.actions.includes("merge")) return;
      if (formAction !== "merge") openForm("merge").then(() => { $("target").value = String(t.id); });
      else $("target").value = String(t.id);
    });
    dot.addTo(layers);
    bounds.extend([t.lat, t.lon]);
  }
  L.circleMarker(here, {radius: 9, color: "#fff", weight: 2, fillColor: "#c62828", fillOpacity: 1}).addTo(layers);
  map.fitBounds(bounds.pad(0.15), {maxZoom: 18});
  $("map-note").textContent = state.merge_targets.length
    ? T(`红点为本诉求，灰点为附近 ${state.merge_targets.length} 条未结案诉求（点击可选为合并对象）`, `Red: this request; grey: ${state.merge_targets.length} open requests nearby (tap to pick for a merge)`)
    : T("红点为本诉求，红框为所在网格", "Red dot: this request; red outline: its grid");
  drawStreets(bounds.pad(0.3));
}

let streetsDrawn = false;
async function drawStreets(bounds) {  // without base tiles, our own streets are the backdrop
  if (streetsDrawn) return;
  streetsDrawn = true;
  const bbox = [bounds.getWest(), bounds.getSouth(), bounds.getEast(), bounds.getNorth()].map(v => v.toFixed(6)).join(",");
  const drawn = L.geoJSON(null, {style: {color: "#9aa0a6", weight: 1.5}, interactive: false}).addTo(map);
  for (let url = `/api/streets?bbox=${bbox}`; url;) {  // in pages: follow the next links
    const response = await fetch(url);
    if (!response.ok) return;
    const page = await response.json();
    drawn.addData(page).bringToBack();
    url = ((page.links || []).find(l => l.rel === "next") || {}).href;
  }
}

fetch("/api/workflow/names").then(r => (r.ok ? r.json() : names)).then(n => { names = n; }).finally(load);
