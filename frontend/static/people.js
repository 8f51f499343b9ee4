// 网格人员: each grid's staff, 党员 and volunteers (phones masked, reveal with a reason); for the 社区/街道 also the
// 双报到 registration form and the placement board (suggested grid per person, placed with one click).
(function () {
  const lang = gridmapI18n({heading: "Grid people", privacy: "Phones and ID numbers are stored encrypted and shown " +
    "masked; seeing a full number needs a reason, and every look is logged.", registerTitle: "Register (双报到)",
    name: "Name", phone: "Mobile", address: "Home address", kind: "Kind", party: "Party member (in service)",
    volunteer: "Volunteer", workUnit: "Work unit", free: "Free times", weekdayDay: "Weekdays, daytime",
    weekdayEvening: "Weekday evenings", weekend: "Weekends", registerButton: "Register",
    placementTitle: "Place into grids", home: "Home building", suggested: "Grid", distance: "Distance",
    placementEmpty: "No one is waiting to be placed", placeAll: "Place in the chosen grids",
    cards: "Print every grid card of this community (PDF)", gridsTitle: "People of each grid",
    export: "Export CSV (numbers masked)", staffTitle: "Record grid staff and volunteers",
    officePhone: "Office phone (shown publicly)", post: "Post", gridWorker: "Grid worker", gridLeader: "Grid leader",
    buildingHead: "Building head", laneHead: "Lane head", grid: "Grid", building: "Building", street: "Street",
    account: "gridmap account (optional)", save: "Save", unpostedTitle: "Not in a grid (waiting or no current post)"});
  const en = lang === "en";
  const T = (zh, english) => (en ? english : zh);
  const errorBox = document.getElementById("error");
  const BOARD = new Set(["community", "command"]);  // a unit: they register and place people
  const REVEALERS = new Set(["community", "command", "admin"]);
  const EDITORS = REVEALERS;  // who may correct, end (卸任) and remove people records (gridmap/policy.py)
  let me = null, board = null;

  function fail(message) { errorBox.hidden = false; errorBox.textContent = message; }

  async function api(url, options) {
    const r = await fetch(url, options);
    const body = r.headers.get("content-type")?.includes("json") ? await r.json() : null;
    if (!r.ok) throw new Error((body && body.detail) || `HTTP ${r.status}`);
    return body;
  }
  const post_ = (url, data) => api(url, {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify(data)});
  const patch_ = (url, data) => api(url, {method: "PATCH", headers: {"Content-Type": "application/json"},
    body: JSON.stringify(data)});
  const result = document.getElementById("people-result");
  function say(message, isError) { result.className = isError ? "error" : ""; result.textContent = message; }

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  // ---- staff: 网格员, 网格长, 楼长 (a building of the grid), 街巷长 (a street of the grid), 志愿者 -----------------
  const staffForm = document.getElementById("staff-form");
  const staffGrid = document.getElementById("staff-grid");
  function fill(select, items) {
    select.replaceChildren(...items.map(item => { const o = el("option", item.name); o.value = item.id ?? item.code; return o; }));
  }
  async function showPlaces() {
    const role = staffForm.elements.role.value;
    document.getElementById("staff-building").hidden = role !== "building_head";
    document.getElementById("staff-street").hidden = role !== "lane_head";
    if (role !== "building_head" && role !== "lane_head") return;
    const places = await api(`/api/people/grids/${staffGrid.value}/places`);
    fill(staffForm.elements.building_id, places.buildings);
    fill(staffForm.elements.street_id, places.streets);
  }
  staffForm.elements.role.addEventListener("change", () => showPlaces().catch(err => fail(err.message)));
  staffGrid.addEventListener("change", () => showPlaces().catch(err => fail(err.message)));
  staffForm.addEventListener("submit", async e => {
    e.preventDefault();
    const f = staffForm.elements, out = document.getElementById("staff-result");
    const post = {role: f.role.value, grid_code: f.grid_code.value};
    if (post.role === "building_head") post.building_id = Number(f.building_id.value);
    if (post.role === "lane_head") post.street_id = Number(f.street_id.value);
    const data = {name: f.name.value, posts: [post]};
    for (const key of ["phone", "office_phone", "username"]) if (f[key].value.trim()) data[key] = f[key].value.trim();
    out.className = "";
    try {
      const made = await post_("/api/people", data);
      out.textContent = T(`已保存：${made.name}`, `Saved: ${made.name}`);
      f.name.value = f.phone.value = f.office_phone.value = f.username.value = "";
      await loadGrids();
    } catch (err) { out.className = "error"; out.textContent = err.message; }
  });

  // ---- registration ----------------------------------------------------------------------------------------
  document.getElementById("register-form").addEventListener("submit", async e => {
    e.preventDefault();
    const form = e.target, out = document.getElementById("register-result");
    const data = Object.fromEntries(new FormData(form));
    data.availability = [...form.querySelectorAll("input[name=availability]:checked")].map(c => c.value);
    if (!data.work_unit) delete data.work_unit;
    out.className = "";
    try {
      const made = await post_("/api/people/register", data);
      out.textContent = T(`已登记：${made.person.name}，住所 ${made.person.home || "（未定位到楼栋）"}，所在网格 ${made.home_grid_code}`,
        `Registered ${made.person.name}: home ${made.person.home || "(no building)"}, grid ${made.home_grid_code}`);
      form.reset();
      await loadBoard();
      await loadGrids();
    } catch (err) { out.className = "error"; out.textContent = err.message; }
  });

  // ---- placement board -------------------------------------------------------------------------------------
  async function loadBoard() {
    board = await api("/api/people/placement");
    document.getElementById("rule").textContent = T("安置规则：", "Rule: ") + board.rule;
    document.getElementById("cards-link").href = `/communities/${board.unit}/cards.pdf`;
    const body = document.querySelector("#placement-table tbody");
    body.replaceChildren();
    const waiting = board.people.filter(p => !p.placed_grid);
    document.getElementById("placement-empty").hidden = waiting.length > 0;
    document.getElementById("place-all").hidden = waiting.length === 0;
    for (const p of waiting) {
      const tr = document.createElement("tr");
      tr.dataset.person = p.person_id;
      const select = document.createElement("select");
      select.setAttribute("aria-label", T(`${p.name}的安置网格`, `grid for ${p.name}`));
      for (const g of board.grids) {
        const option = el("option", g.name);
        option.value = g.code;
        option.selected = g.code === p.suggested_grid;
        select.append(option);
      }
      tr.append(el("td", p.name), el("td", p.kind_name), el("td", p.home || "—"), el("td", p.availability.join("、")),
        el("td"), el("td", p.distance_m === null ? "—" : `${Math.round(p.distance_m)} m`));
      tr.children[4].append(select);
      body.append(tr);
    }
  }

  document.getElementById("place-all").addEventListener("click", async () => {
    const rows = [...document.querySelectorAll("#placement-table tbody tr")];
    const placements = rows.map(tr => ({person_id: Number(tr.dataset.person), grid_code: tr.querySelector("select").value}));
    const out = document.getElementById("place-result");
    try {
      const done = await post_("/api/people/placement", {placements});
      out.textContent = T(`已安置 ${done.placed} 人`, `${done.placed} placed`);
      await loadBoard();
      await loadGrids();
    } catch (err) { out.textContent = err.message; }
  });

  // ---- the people of each grid ------------------------------------------------------------------------------
  function revealButton(person, li) {
    if (!REVEALERS.has(me.role) || !person.phone) return;
    const open = el("button", T("查看号码", "Show number"));
    open.type = "button";
    open.addEventListener("click", () => {
      open.hidden = true;
      const form = el("form", null, "reveal-form");
      const reason = el("input");
      reason.required = true; reason.minLength = 2; reason.maxLength = 500;
      reason.placeholder = T("查看原因（必填，将被记录）", "Reason (required, logged)");
      reason.setAttribute("aria-label", T("查看原因", "reason"));
      const go = el("button", T("确定", "OK")); go.type = "submit";
      form.append(reason, go);
      form.addEventListener("submit", async e => {
        e.preventDefault();
        try {
          const shown = await post_(`/api/people/${person.id}/reveal`, {field: "phone", reason: reason.value});
          form.replaceWith(el("span", shown.value, "revealed"));
        } catch (err) { form.append(el("span", err.message, "error")); }
      });
      li.append(form);
    });
    li.append(open);
  }

  // ---- correcting, ending (卸任) and removing records ------------------------------------------------------------
  function button(text, cls) { const b = el("button", text, cls); b.type = "button"; return b; }

  function field(form, label, name, options) {
    const input = el("input");
    input.name = name;
    Object.assign(input, options);
    const wrap = el("label");
    wrap.append(el("span", label), input);
    form.append(wrap);
    return input;
  }

  // The edit form: phone and ID number stay empty unless typed again (the masked value is only the placeholder).
  function editForm(person, li) {
    document.querySelectorAll(".edit-form").forEach(f => f.remove());
    const form = el("form", null, "edit-form people-form");
    form.dataset.person = person.id;
    const name = field(form, T("姓名", "Name"), "name", {value: person.name, required: true, maxLength: 100});
    const phone = field(form, T("手机（不改请留空）", "Mobile (empty: unchanged)"), "phone",
      {placeholder: person.phone || T("未登记", "none"), maxLength: 30, inputMode: "tel", autocomplete: "off"});
    const idNumber = field(form, T("身份证号（不改请留空）", "ID number (empty: unchanged)"), "id_number",
      {placeholder: person.id_number || T("未登记", "none"), maxLength: 18, autocomplete: "off"});
    const office = field(form, T("办公电话（公示）", "Office phone (public)"), "office_phone",
      {value: person.office_phone || "", maxLength: 30, inputMode: "tel"});
    const work = field(form, T("工作单位", "Work unit"), "work_unit", {value: person.work_unit || "", maxLength: 200});
    const address = field(form, T("新住址（不改请留空）", "New home address (empty: unchanged)"), "address",
      {placeholder: person.home || "", maxLength: 300});
    const save = el("button", T("保存修改", "Save changes")); save.type = "submit";
    const cancel = button(T("取消", "Cancel"));
    cancel.addEventListener("click", () => form.remove());
    form.append(save, cancel);
    form.addEventListener("submit", async e => {
      e.preventDefault();
      const data = {};
      if (name.value.trim() !== person.name) data.name = name.value.trim();
      if (phone.value.trim()) data.phone = phone.value.trim();
      if (idNumber.value.trim()) data.id_number = idNumber.value.trim();
      if (office.value.trim() !== (person.office_phone || "")) data.office_phone = office.value.trim() || null;
      if (work.value.trim() !== (person.work_unit || "")) data.work_unit = work.value.trim() || null;
      if (address.value.trim()) data.address = address.value.trim();
      if (!Object.keys(data).length) { say(T("没有修改", "Nothing changed")); return; }
      try {
        const saved = await patch_(`/api/people/${person.id}`, data);
        await loadGrids();  // the message comes once the lists show the change
        say(T(`已保存：${saved.name}`, `Saved: ${saved.name}`));
      } catch (err) { say(err.message, true); }
    });
    li.append(form);
    name.focus();
  }

  // Two steps: the first click asks, the second does it (no window.confirm: it blocks and is easy to click away).
  function confirmed(li, label, question, cls, act) {
    const open = button(label, cls);
    open.addEventListener("click", () => {
      open.hidden = true;
      const box = el("span", null, "confirm-box");
      const yes = button(T("确认", "Confirm"), "confirm-yes");
      const no = button(T("取消", "Cancel"));
      no.addEventListener("click", () => { box.remove(); open.hidden = false; });
      yes.addEventListener("click", async () => {
        yes.disabled = true;
        try { await act(); } catch (err) { say(err.message, true); box.remove(); open.hidden = false; }
      });
      box.append(el("span", question), " ", yes, " ", no);
      li.append(box);
    });
    li.append(" ", open);
  }

  function editButtons(person, post, li) {
    if (!EDITORS.has(me.role)) return;
    const edit = button(T("编辑", "Edit"), "edit-person");
    edit.addEventListener("click", () => editForm(person, li));
    li.append(" ", edit);
    if (post) {
      confirmed(li, T("卸任", "End post"), T(`确认 ${person.name} 卸任${post.role_name}？（记录保留为历史）`,
        `End ${person.name}'s post as ${post.role_name}? (kept as history)`), "end-post", async () => {
        await api(`/api/people/${person.id}/posts/${post.id}`, {method: "DELETE"});
        await loadGrids();
        say(T(`已卸任：${person.name}（${post.role_name}）`, `Post ended: ${person.name} (${post.role_name})`));
      });
    } else {
      confirmed(li, T("删除", "Delete"), T(`确认删除 ${person.name} 及其个人信息？此操作不可撤销`,
        `Delete ${person.name} and their personal data? This cannot be undone`), "remove-person", async () => {
        await api(`/api/people/${person.id}`, {method: "DELETE"});
        await loadGrids();
        say(T(`已删除：${person.name}`, `Deleted: ${person.name}`));
      });
    }
  }

  function personLine(person, post) {
    const li = el("li");
    li.dataset.person = person.id;
    if (post) li.append(el("span", post.role_name, "post-role"), " ");
    li.append(el("span", person.name, "person-name"));
    const where = post && (post.building_name || post.street_name);
    if (where) li.append(` · ${where}`);
    const phone = person.office_phone ? `${T("办公", "office")} ${person.office_phone}` : person.phone;
    if (phone) li.append(" · ", el("span", phone, "phone"));
    revealButton(person, li);
    editButtons(person, post, li);
    return li;
  }

  function unposted(everyone) {
    const section = document.getElementById("unposted-section");
    const list = document.getElementById("unposted");
    const people = everyone.filter(p => !p.posts.some(x => x.grid_code));
    section.hidden = !EDITORS.has(me.role) || people.length === 0;
    list.replaceChildren(...people.flatMap(p => (p.posts.length ? p.posts.map(x => personLine(p, x)) : [personLine(p, null)])));
  }

  let generation = 0;  // a newer load wins over one still in flight
  async function loadGrids() {
    const mine = ++generation;
    const [grids, everyone] = await Promise.all([api("/api/people/grids"), api("/api/people")]);
    const sections = [];
    for (const g of grids) {
      const people = everyone.filter(p => p.posts.some(x => x.grid_code === g.code));
      const section = el("div", null, "grid-people");
      section.dataset.grid = g.code;
      const title = el("h3", `${g.name}（${g.code}）`);
      const card = el("a", T("公示牌 PDF", "Card PDF"));
      card.href = `/grids/${g.code}/card.pdf`;
      title.append(" ", card);
      const list = el("ul");
      for (const p of people) {
        for (const post of p.posts.filter(x => x.grid_code === g.code)) list.append(personLine(p, post));
      }
      if (!list.children.length) list.append(el("li", T("暂无登记人员", "No one recorded yet"), "muted"));
      section.append(title, list);
      sections.push(section);
    }
    if (mine !== generation) return;
    document.getElementById("grids").replaceChildren(...sections);
    unposted(everyone);
  }

  (async () => {
    try {
      me = await api("/api/me");
      if (BOARD.has(me.role) && me.unit_code) {
        document.getElementById("staff-section").hidden = false;
        fill(staffGrid, await api("/api/people/grids"));
        document.getElementById("register-section").hidden = false;
        document.getElementById("placement-section").hidden = false;
        await loadBoard();
      }
      await loadGrids();
    } catch (err) { fail(err.message); }
  })();
})();
