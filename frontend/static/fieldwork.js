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
// A visit is first kept in an IndexedDB outbox on the phone (with its photo as a Blob and its Idempotency-Key),
// then uploaded: at once when online, else when the network returns (online event, page open, 立即上传), in the
// order recorded, each once. Its time is the phone's time when it was recorded (made_at), not the upload's.
(function () {
  const {T, lang} = window.gridmapShell;
  const $ = id => document.getElementById(id);
  const make = (tag, text) => { const n = document.createElement(tag); if (text !== undefined) n.textContent = text; return n; };
  const STATE = {done: ["本期已完成", "done"], partial: ["进行中", "in progress"], due: ["待访", "due"], overdue: ["逾期", "overdue"]};
  const MAX_SIDE = 1600, MAX_PHOTO_BYTES = 10 * 1024 * 1024;  // the server's request photo limit (the default)
  const box = gridmapMakeOutbox("gridmap-visits", "outbox");
  const kindNames = {};
  let visit = null, held = null, syncing = null, again = false;

  async function json(url, options = {}) {
    const response = await fetch(url, {credentials: "same-origin", ...options});
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(typeof body.detail === "string" ? body.detail : `HTTP ${response.status}`);
    return body;
  }
  const fail = e => { $("visit-error").textContent = e.message; $("visit-error").hidden = false; };
  const messageOf = (data, status) => (data && typeof data.detail === "string" ? data.detail : `HTTP ${status}`);
  const phoneDay = () => new Date().toLocaleDateString("sv-SE", {timeZone: "Asia/Shanghai"});  // YYYY-MM-DD

  async function buildings() {
    const answer = await json("/api/visits/buildings");
    const select = $("v-building"), keep = select.value;
    select.replaceChildren();
    for (const b of answer.buildings) {
      const o = make("option", `${b.name} · ${T(...STATE[b.state])} · ${b.visited}/${b.households}${T("户", " hh")}`);
      o.value = String(b.building_id);
      o.dataset.name = b.name;
      o.dataset.state = b.state;
      select.appendChild(o);
    }
    if (keep) select.value = keep;
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

  // ---- the outbox: 待上传 N 条, each queued visit listed; one the server refused can be edited or discarded ------
  async function showQueue() {
    const items = await box.all();
    $("visit-outbox").hidden = !items.length;
    $("visit-pending").dataset.count = String(items.length);
    $("visit-pending").textContent = T(`待上传 ${items.length} 条`, `${items.length} waiting to upload`);
    $("visit-queue").replaceChildren(...items.map(item => {
      const li = make("li", `${item.building} · ${item.body.visited_on} · ${kindNames[item.body.kind] || item.body.kind}` +
        (item.body.room ? ` · ${item.body.room}${T("室", "")}` : "") + (item.photo ? T(" · 含照片", " · with photo") : ""));
      li.dataset.key = item.key;
      if (item.refused) {
        li.dataset.refused = "true";
        li.appendChild(make("span", T(`未被接受：${item.refused}`, `Refused: ${item.refused}`))).className = "error";
        const edit = make("button", T("修改", "Edit")), drop = make("button", T("放弃", "Discard"));
        edit.type = drop.type = "button";
        edit.className = "v-edit"; drop.className = "v-discard";
        edit.addEventListener("click", () => editItem(item));
        drop.addEventListener("click", async () => { await box.remove(item.key); await showQueue(); });
        li.append(edit, drop);
      } else if (item.waiting) {
        li.appendChild(make("span", ` · ${item.waiting}`)).className = "muted";
      }
      return li;
    }));
  }

  async function editItem(item) {  // back into the form; saved again it is a new entry with a new key
    await box.remove(item.key);
    const b = item.body;
    $("v-building").value = String(b.building_id);
    $("v-unit").value = b.unit || ""; $("v-room").value = b.room || "";
    $("v-kind").value = b.kind; $("v-date").value = b.visited_on; $("v-note").value = b.note || "";
    held = item.photo || null;
    await showQueue();
    $("v-note").focus();
  }

  async function deliver(item) {
    const wait = async why => { item.waiting = why; await box.put(item); return {kind: "queued"}; };
    if (!item.visit) {
      let response;
      try {
        response = await fetch("/api/visits", {method: "POST", credentials: "same-origin",
          headers: {"Content-Type": "application/json", "Idempotency-Key": item.key}, body: JSON.stringify(item.body)});
      } catch (e) { return wait(T("没有网络", "No network")); }
      const data = await response.json().catch(() => null);
      if (response.status === 401) return wait(T("登录已过期：请重新登录，之后自动上传", "Signed out: sign in again and it uploads"));
      if (response.status >= 500 || response.status === 429 || response.status === 408) return wait(messageOf(data, response.status));
      if (!response.ok) { item.refused = messageOf(data, response.status); await box.put(item); return {kind: "refused"}; }
      item.visit = data;
      await box.put(item);
    }
    if (item.photo) {
      const form = new FormData();
      form.append("photo", item.photo, "visit.jpg");
      let response;
      try {
        response = await fetch(`/api/visits/${item.visit.id}/photos`, {method: "POST", credentials: "same-origin", body: form});
      } catch (e) { return wait(T("没有网络", "No network")); }
      const data = await response.json().catch(() => null);
      if (response.status >= 500 || response.status === 401 || response.status === 429) return wait(messageOf(data, response.status));
      if (response.ok) item.visit = data; else item.photoError = messageOf(data, response.status);
    }
    await box.remove(item.key);
    return {kind: "stored", item};
  }

  function shown(item) {
    visit = item.visit;
    $("visit-result").textContent = T(`已记录走访 #${visit.id}：${visit.building}`, `Visit #${visit.id} recorded: ${visit.building}`);
    $("visit-result").dataset.id = String(visit.id);
    $("visit-request").hidden = false;
    if (item.photoError) fail(new Error(T(`走访已记录，照片未上传：${item.photoError}`, `Visit recorded, photo not uploaded: ${item.photoError}`)));
  }

  async function syncOnce() {  // in the order recorded; a network failure stops the round, a refusal is skipped
    let stored = 0;
    for (const item of await box.all()) {
      if (item.refused) continue;
      const done = await deliver(item);
      if (done.kind === "queued") break;
      if (done.kind === "stored") { stored += 1; shown(done.item); }
      if (done.kind === "refused") fail(new Error(T(`走访未被接受：${item.refused}`, `Visit refused: ${item.refused}`)));
    }
    await showQueue();
    if (stored) await Promise.all([buildings(), route()]).catch(fail);
  }

  function sync() {  // one round at a time; asked during a round, another follows (for a visit saved meanwhile)
    if (syncing) { again = true; return syncing; }
    syncing = (async () => { do { again = false; await syncOnce(); } while (again); })()
      .catch(fail).finally(() => { syncing = null; });
    return syncing;
  }

  async function save(event) {
    event.preventDefault();
    $("visit-error").hidden = true;
    $("v-save").disabled = true;
    try {
      const option = $("v-building").selectedOptions[0];
      if (!option) throw new Error(T("请选择楼栋", "Choose a building"));
      const item = {key: box.newKey(), createdAt: new Date().toISOString(), building: option.dataset.name || option.textContent,
        body: {building_id: Number(option.value), visited_on: $("v-date").value || phoneDay(), made_at: new Date().toISOString(),
          kind: $("v-kind").value, unit: $("v-unit").value.trim() || null, room: $("v-room").value.trim() || null,
          note: $("v-note").value.trim() || null},
        photo: null};
      const file = $("v-photo").files[0];
      let photoNote = "";
      if (file) {
        try { item.photo = await gridmapCompressPhoto(file, MAX_SIDE); } catch (e) { photoNote = T("无法读取照片", "could not read the photo"); }
        if (item.photo && item.photo.size > MAX_PHOTO_BYTES) { item.photo = null; photoNote = T("照片太大", "the photo is too large"); }
      } else if (held) item.photo = held;
      try { await box.put(item); } catch (e) {  // the phone's storage is full: keep the visit without its photo
        if (!item.photo) throw e;
        item.photo = null; photoNote = T("手机存储不足", "the phone's storage is full");
        await box.put(item);
      }
      held = null;
      if (photoNote) fail(new Error(T(`走访已保存，未含照片（${photoNote}）`, `Visit kept without its photo (${photoNote})`)));
      $("v-note").value = ""; $("v-photo").value = ""; $("v-unit").value = ""; $("v-room").value = "";
      await showQueue();
      if (navigator.onLine) await sync();
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

  window.gridmapVisits = {sync, pending: async () => (await box.all()).length};

  window.gridmapShell.me.then(async user => {
    if (!["grid_worker", "community"].includes(user.role)) return;
    // the workbench opens offline (sw.js) for whoever records visits, 社区 staff too (registering twice is one)
    if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js", {scope: "/"}).catch(() => {});
    $("visit").hidden = false;
    if (user.links.some(l => l.href === "/maps/visits")) {  // the policy's pages only
      $("visit-map").href = "/maps/visits";
      $("visit-map").hidden = false;
    }
    $("v-unit").placeholder = T("单元", "Entrance");
    $("v-room").placeholder = T("室", "Flat");
    $("v-note").placeholder = T("民情日记：走访情况、群众反映的问题", "Diary: what you found, what residents raised");
    $("v-date").value = phoneDay();
    $("v-date").max = phoneDay();
    $("visit-form").addEventListener("submit", save);
    $("v-to-request").addEventListener("click", toRequest);
    $("visit-sync").addEventListener("click", () => sync());
    window.addEventListener("online", () => sync());
    setInterval(() => { if (navigator.onLine) sync(); }, 20000);
    const [kinds, cats] = await Promise.all([json("/api/visit-kinds"), json("/api/categories")]).catch(e => { fail(e); return [[], []]; });
    for (const k of kinds) {
      kindNames[k.code] = lang === "en" ? k.name_en : k.name_zh;
      const o = make("option", kindNames[k.code]);
      o.value = k.code;
      $("v-kind").appendChild(o);
    }
    for (const c of cats) {
      const o = make("option", lang === "en" ? c.name_en : c.name_zh);
      o.value = c.code;
      $("v-category").appendChild(o);
    }
    await buildings().catch(fail);
    await showQueue();
    if (navigator.onLine) await sync();
    if (user.role === "grid_worker") await route().catch(() => {});
  }).catch(() => {});
})();
