// The workbench (/): the role's 待办 from GET /api/requests?todo=true (sorted by deadline, paged on the server),
// filters and search, the pages the role may open (from /api/me), and today's overview for leaders and planners.
const lang = gridmapI18n({
  todo: "To do", mine: "My to-do", all: "All in my area", allGrids: "All my grids", allStatus: "All statuses",
  allCategory: "All categories", overdue: "Overdue only", empty: "Nothing to do", more: "Load more",
  pages: "My pages", overview: "Overview", patrol: "Patrol", patrolStart: "Start patrol", patrolEnd: "End patrol",
  patrolPrivacy: "Your position is recorded only during a patrol; tracks are deleted after 180 days.",
  visit: "Visits", visitMap: "Visit map", vBuilding: "Building", vKind: "Kind", vDate: "Date", vPhoto: "Photo (optional)",
  vSave: "Record visit", vToRequest: "Turn into a request", route: "Today's suggested route", vSync: "Upload now",
});
const T = (zh, en) => (lang === "en" ? en : zh);
const PAGE = 20;
const OPEN = ["reported", "taken", "escalated", "triaged", "dispatched", "accepted", "returned", "resolved", "verified", "reopened"];
const STATUS = {
  reported: ["待点单", "Reported"], taken: ["已点单", "Taken"], escalated: ["已上报社区", "Escalated"],
  triaged: ["待派单", "To dispatch"], dispatched: ["待接单", "Dispatched"], accepted: ["办理中", "Accepted"],
  returned: ["已退单", "Returned"], resolved: ["待核查", "Resolved"], verified: ["待评单", "Verified"],
  closed: ["已结案", "Closed"], reopened: ["重新办理", "Reopened"], merged: ["已合并", "Merged"],
};
const statusName = s => (STATUS[s] ? T(...STATUS[s]) : s);
const $ = id => document.getElementById(id);
const make = (tag, cls, text) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
};
$("q").placeholder = T("搜索编号、地址或内容", "Find by number, address or text");

function span(seconds) {  // 12 分钟, 2 小时, 3 天
  const m = Math.max(1, Math.round(Math.abs(seconds) / 60));
  if (m < 60) return T(`${m} 分钟`, `${m} min`);
  const h = Math.round(m / 60);
  if (h < 48) return T(`${h} 小时`, `${h} h`);
  const d = Math.round(h / 24);
  return T(`${d} 天`, `${d} days`);
}

function countdown(due) {
  if (!due) return ["none", T("无时限", "no deadline")];
  if (due.seconds_left < 0) return ["overdue", T(`已超时 ${span(due.seconds_left)}`, `${span(due.seconds_left)} overdue`)];
  return [due.state, T(`剩余 ${span(due.seconds_left)}`, `${span(due.seconds_left)} left`)];
}

function place(item) {
  if (!item.place) return T("位置未知", "unknown place");
  return item.place_kind === "street" ? T(`近 ${item.place}`, `near ${item.place}`) : item.place;
}

function row(item, now) {
  const li = document.createElement("li");
  const a = make("a");
  a.href = `/requests/${encodeURIComponent(item.id)}`;
  a.dataset.id = item.id;
  const head = make("div", "wb-cat", lang === "en" ? item.category_name_en : item.category_name);
  head.append(make("span", "wb-status", statusName(item.status)), make("span", "wb-id", `#${item.id}`));
  const age = (now - Date.parse(item.created_at)) / 1000;
  const where = make("div", "wb-place", `${place(item)} · ${T(`${span(age)}前`, `${span(age)} ago`)}`);
  const [state, text] = countdown(item.due);
  const sla = make("span", `wb-sla ${state}`, text);
  a.append(head, sla, where);
  li.appendChild(a);
  return li;
}

let me = null, offset = 0, shown = 0, serial = 0;

function params() {
  const p = new URLSearchParams({limit: PAGE, offset, sort: "deadline"});
  const scope = $("f-scope").value, status = $("f-status").value;
  if (scope === "todo") p.set("todo", "true");
  if (status) p.set("status", status); else if (scope === "all") p.set("status", OPEN.join(","));
  if ($("f-category").value) p.set("category", $("f-category").value);
  if ($("f-grid").value) p.set("grid_code", $("f-grid").value);
  if ($("f-overdue").checked) p.set("overdue", "true");
  const q = $("q").value.trim();
  if (q) p.set("q", q);
  return p;
}

async function load(more) {
  const mine = ++serial;
  if (!more) { offset = 0; shown = 0; }
  const response = await fetch(`/api/requests?${params()}`, {credentials: "same-origin"});
  if (mine !== serial) return;  // a newer filter won
  const list = $("todo-list");
  if (!more) list.replaceChildren();
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    $("todo-error").textContent = typeof body.detail === "string" ? body.detail : T("加载失败", "could not load");
    $("todo-error").hidden = false;
    return;
  }
  $("todo-error").hidden = true;
  const page = await response.json();
  const now = Date.parse(page.now);
  for (const item of page.items) list.appendChild(row(item, now));
  shown += page.items.length;
  offset = shown;
  $("todo-total").textContent = `(${page.total})`;
  $("todo-empty").hidden = page.total > 0;
  $("more").hidden = shown >= page.total;
}

function fillStatuses() {
  const select = $("f-status"), keep = select.value;
  const names = $("f-scope").value === "todo" ? me.todo_statuses : OPEN;
  select.replaceChildren(make("option", null, T("全部状态", "All statuses")));
  select.firstChild.value = "";
  for (const s of names) {
    const o = make("option", null, statusName(s));
    o.value = s;
    select.appendChild(o);
  }
  select.value = names.includes(keep) ? keep : "";
}

async function setup(user) {
  me = user;
  const links = $("page-links");
  for (const link of user.links.filter(l => l.href !== "/")) {
    const li = document.createElement("li"), a = make("a", null, T(link.zh, link.en));
    a.href = link.href;
    li.appendChild(a);
    links.appendChild(li);
  }
  $("pages").hidden = links.children.length === 0;
  if (user.overview) overview();
  if (!user.has_todo) return;
  $("todo").hidden = false;
  if (user.grid_names.length > 1) {
    for (const g of user.grid_names) {
      const o = make("option", null, g.name);
      o.value = g.code;
      $("f-grid").appendChild(o);
    }
    $("f-grid").hidden = false;
  }
  fillStatuses();
  const cats = await fetch("/api/categories", {credentials: "same-origin"}).then(r => (r.ok ? r.json() : []));
  for (const c of cats) {
    const o = make("option", null, lang === "en" ? c.name_en : c.name_zh);
    o.value = c.code;
    $("f-category").appendChild(o);
  }
  let timer = null;
  $("q").addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => load(false), 300); });
  $("filters").addEventListener("submit", e => { e.preventDefault(); load(false); });
  $("f-scope").addEventListener("change", () => { fillStatuses(); load(false); });
  for (const id of ["f-grid", "f-status", "f-category", "f-overdue"]) $(id).addEventListener("change", () => load(false));
  $("more").addEventListener("click", () => load(true));
  await load(false);
}

async function overview() {
  const labels = {
    buildings: ["楼栋", "Buildings"], residential_buildings: ["住宅楼栋", "Residential buildings"], compounds: ["小区", "Compounds"],
    streets: ["道路", "Streets"], grids: ["网格", "Grids"], households: ["户数", "Households"], requests: ["诉求", "Requests"],
    plan_version: ["网格方案版本", "Plan version"],
  };
  const s = await fetch("/api/stats", {credentials: "same-origin"}).then(r => (r.ok ? r.json() : null));
  if (!s) return;
  const body = document.querySelector("#stats tbody");
  for (const [k, name] of Object.entries(labels)) {
    const tr = body.insertRow();
    tr.insertCell().textContent = T(...name);
    tr.insertCell().textContent = s[k] ?? "—";
  }
  $("overview").hidden = false;
}

function offline() {  // the page came from the service worker (a patrol can go on): the 待办 needs the network
  $("todo-error").textContent = T("离线：待办列表需联网后刷新", "Offline: the to-do list needs the network");
  $("todo-error").hidden = false;
}

window.gridmapShell.me.then(user => setup(user).catch(offline), () => { location.href = "/login"; });
