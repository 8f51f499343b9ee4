// 五个一 on the dashboard: patrol days and minutes, short patrols, visits per kind and the 遍访 share per grid,
// grid worker or 社区, from GET /api/kpis/fieldwork (the same period as the rest of the dashboard).
(function () {
  const T = (zh, en) => ((localStorage.getItem("gridmap.lang") || "zh") === "en" ? en : zh);
  const $ = id => document.getElementById(id);
  const KINDS = [["routine", "常规", "Routine"], ["key_person", "重点人员", "Key persons"], ["hardship", "困难家庭", "Hardship"],
    ["elderly_alone", "空巢老人", "Elderly alone"], ["key_place", "重点场所", "Key places"]];

  async function refresh() {
    const query = `level=${$("five-level").value}&days=${$("days").value}`;
    $("five-csv").href = `/api/kpis/fieldwork?${query}&format=csv`;
    const response = await fetch(`/api/kpis/fieldwork?${query}`, {credentials: "same-origin"});
    if (!response.ok) return;
    const body = await response.json();
    const head = $("five-table").querySelector("thead"), rows = $("five-table").querySelector("tbody");
    const names = [T("单元", "Unit"), T("巡查天数", "Patrol days"), T("巡查分钟", "Patrol minutes"), T("短巡查", "Short"),
      T("走访", "Visits"), ...KINDS.map(k => T(k[1], k[2])), T("遍访率", "Households visited")];
    const tr = document.createElement("tr");
    for (const n of names) { const th = document.createElement("th"); th.textContent = n; tr.appendChild(th); }
    head.replaceChildren(tr);
    rows.replaceChildren();
    for (const u of body.units) {
      const row = rows.insertRow();
      row.dataset.unit = u.unit;
      const share = u.visit_share === null ? "—" : `${(u.visit_share * 100).toFixed(1)}% (${u.households_visited}/${u.households})`;
      for (const v of [u.unit_name, u.patrol_days, u.patrol_minutes, u.short_patrols, u.visits,
        ...KINDS.map(k => u.visits_by_kind[k[0]]), share]) row.insertCell().textContent = v;
    }
  }
  $("five-level").addEventListener("change", refresh);
  $("days").addEventListener("change", refresh);
  refresh();
})();
