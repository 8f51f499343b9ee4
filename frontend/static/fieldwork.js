// The grid worker's field work on the workbench (/): 开始巡查 / 结束巡查 with what is recorded and waiting to be
// uploaded, and the last patrol's numbers (duration, length, the shares of the grid's streets and buildings).
(function () {
  const {T} = window.gridmapShell;
  const $ = id => document.getElementById(id);
  const P = gridmapPatrol;
  const pct = v => (v === null || v === undefined ? "—" : `${Math.round(v * 100)}%`);
  const clock = iso => new Date(iso).toLocaleTimeString("zh-CN", {hour: "2-digit", minute: "2-digit", timeZone: "Asia/Shanghai"});

  async function show() {
    const patrol = P.current(), wait = await P.pending();
    $("patrol-start").hidden = Boolean(patrol);
    $("patrol-end").hidden = !patrol;
    $("patrol-state").textContent = patrol
      ? T(`巡查中，${clock(patrol.started_at)} 开始 · 已记录 ${wait.recorded} 个位置`,
        `On patrol since ${clock(patrol.started_at)} · ${wait.recorded} positions recorded`)
      : T("未在巡查", "Not on patrol");
    $("patrol-state").dataset.state = patrol ? "on" : "off";
    $("patrol-pending").textContent = wait.points || (wait.patrols && !patrol)
      ? T(`待同步：${wait.points} 个位置`, `Waiting to upload: ${wait.points} positions`) : "";
    $("patrol-pending").dataset.points = String(wait.points);
    const done = P.lastResult();
    if (done) {
      const minutes = Math.round(done.minutes || 0), km = (done.length_m / 1000).toFixed(2);
      $("patrol-last").textContent = T(
        `上次巡查：${minutes} 分钟，${km} 公里，道路覆盖 ${pct(done.street_share)}，楼栋覆盖 ${pct(done.building_share)}` +
          (done.short ? "（时长不足）" : ""),
        `Last patrol: ${minutes} min, ${km} km, streets ${pct(done.street_share)}, buildings ${pct(done.building_share)}` +
          (done.short ? " (too short)" : ""));
      $("patrol-last").dataset.id = String(done.id);
    }
    $("patrol-error").hidden = !P.error;
    $("patrol-error").textContent = P.error || "";
  }

  window.gridmapShell.me.then(user => {
    if (user.role !== "grid_worker") return;
    // the workbench opens offline too (sw.js), so that a patrol can be ended without network
    if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js", {scope: "/"}).catch(() => {});
    $("patrol").hidden = false;
    $("patrol-start").addEventListener("click", async () => {
      if (!navigator.geolocation) { P.error = T("此设备无法定位", "this device cannot locate itself"); show(); return; }
      await P.start(user.grids.length === 1 ? user.grids[0] : null);
    });
    $("patrol-end").addEventListener("click", () => P.end());
    P.onChange(show);
    show();
  }).catch(() => {});
})();

// 走访: record a visit at a building of one's grids (or 单元/室), with a note and a photo, turn it into a request
// in one step; today's suggested route to the most overdue buildings, in walking order along the streets.
(function () {
  const {T, lang} = window.gridmapShell;
  const $ = id => document.getElementById(id);
  const make = (tag, text) => { const n = document.createElement(tag); if (text !== undefined) n.textContent = text; return n; };
  const STATE = {done: ["本期已完成", "done"], partial: ["进行中", "in progress"], due: ["待访", "due"], overdue: ["逾期", "overdue"]};
  let visit = null;

  async function json(url, options = {}) {
    const response = await fetch(url, {credentials: "same-origin", ...options});
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(typeof body.detail === "string" ? body.detail : `HTTP ${response.status}`);
    return body;
  }
  const fail = e => { $("visit-error").textContent = e.message; $("visit-error").hidden = false; };

  async function buildings() {
    const answer = await json("/api/visits/buildings");
    const select = $("v-building"), keep = select.value;
    select.replaceChildren();
    for (const b of answer.buildings) {
      const o = make("option", `${b.name} · ${T(...STATE[b.state])} · ${b.visited}/${b.households}${T("户", " hh")}`);
      o.value = String(b.building_id);
      select.appendChild(o);
    }
    if (keep) select.value = keep;
    if (!$("v-date").value) $("v-date").value = answer.today;
  }

  async function route() {
    const answer = await json("/api/visits/route");
    $("route").replaceChildren(...answer.stops.map(s => {
      const li = make("li", `${s.name} · ${T(...STATE[s.state])}${s.last_visit ? T(`（上次 ${s.last_visit}）`, ` (last ${s.last_visit})`) : ""}`);
      li.className = s.state;
      li.dataset.building = String(s.building_id);
      return li;
    }));
    $("route-total").textContent = answer.stops.length
      ? T(`沿街步行约 ${Math.round(answer.walking_m)} 米`, `about ${Math.round(answer.walking_m)} m walking along the streets`) : "";
  }

  async function save(event) {
    event.preventDefault();
    $("visit-error").hidden = true;
    $("v-save").disabled = true;
    try {
      const body = {key: gridmapOutbox.newKey(), building_id: Number($("v-building").value), visited_on: $("v-date").value,
        kind: $("v-kind").value, unit: $("v-unit").value.trim() || null, room: $("v-room").value.trim() || null,
        note: $("v-note").value.trim() || null};
      visit = await json("/api/visits", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
      const file = $("v-photo").files[0];
      if (file) {
        const form = new FormData();
        form.append("photo", file);
        visit = await json(`/api/visits/${visit.id}/photos`, {method: "POST", body: form});
      }
      $("visit-result").textContent = T(`已记录走访 #${visit.id}：${visit.building}`, `Visit #${visit.id} recorded: ${visit.building}`);
      $("visit-result").dataset.id = String(visit.id);
      $("visit-request").hidden = false;
      $("v-note").value = ""; $("v-photo").value = "";
      await Promise.all([buildings(), route()]);
    } catch (e) { fail(e); } finally { $("v-save").disabled = false; }
  }

  async function toRequest() {
    if (!visit) return;
    $("v-to-request").disabled = true;
    try {
      visit = await json(`/api/visits/${visit.id}/request`, {method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify({category: $("v-category").value})});
      const a = make("a", T(`已转为诉求 #${visit.request_id}`, `Request #${visit.request_id} made`));
      a.href = `/requests/${encodeURIComponent(visit.request_id)}`;
      a.id = "visit-request-link";
      $("visit-result").replaceChildren(a);
      $("visit-request").hidden = true;
    } catch (e) { fail(e); } finally { $("v-to-request").disabled = false; }
  }

  window.gridmapShell.me.then(async user => {
    if (!["grid_worker", "community"].includes(user.role)) return;
    $("visit").hidden = false;
    if (user.links.some(l => l.href === "/maps/visits")) {  // the policy's pages only
      $("visit-map").href = "/maps/visits";
      $("visit-map").hidden = false;
    }
    $("v-unit").placeholder = T("单元", "Entrance");
    $("v-room").placeholder = T("室", "Flat");
    $("v-note").placeholder = T("民情日记：走访情况、群众反映的问题", "Diary: what you found, what residents raised");
    const [kinds, cats] = await Promise.all([json("/api/visit-kinds"), json("/api/categories")]);
    for (const k of kinds) {
      const o = make("option", lang === "en" ? k.name_en : k.name_zh);
      o.value = k.code;
      $("v-kind").appendChild(o);
    }
    for (const c of cats) {
      const o = make("option", lang === "en" ? c.name_en : c.name_zh);
      o.value = c.code;
      $("v-category").appendChild(o);
    }
    $("visit-form").addEventListener("submit", save);
    $("v-to-request").addEventListener("click", toRequest);
    await buildings().catch(fail);
    if (user.role === "grid_worker") await route().catch(fail);
  }).catch(() => {});
})();
