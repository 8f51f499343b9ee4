// Leader dashboard: KPIs of /api/kpis as tiles, charts (Chart.js, served locally) and a table with numerators.
// The hot-spot map is embedded only for roles that may open it (the links of /api/me, decided by the policy).
const lang = gridmapI18n({title: "KPI dashboard", home: "Home", hot: "Hot spots", lanes: "Blocked lanes", coverage: "Coverage",
  level: "Unit", days: "Period", csv: "Download CSV", rates: "Resolution / on-time / satisfaction", response: "Response time (min, p50 / p90)",
  hotmap: "Hot-spot map", table: "Details (numerator / denominator)", five: "Five ones: patrols and visits",
  fiveLevel: "Unit", lvGrid: "Grid", lvWorker: "Grid worker", lvCommunity: "Community", patrolMap: "Patrol coverage map", visitMap: "Visit coverage map",
  fiveNote: "Households visited: households visited this period (routine plan) over all households; short: under 30 minutes."});
const T = (zh, en) => (lang === "en" ? en : zh);
const charts = {};
const pct = r => (r.value === null ? "—" : (r.value * 100).toFixed(1) + "%");

function chart(id, config) { if (charts[id]) charts[id].destroy(); charts[id] = new Chart(document.getElementById(id), config); }

async function refresh() {
  const level = document.getElementById("level").value, days = +document.getElementById("days").value;
  const query = `level=${level}&days=${days}`;  // the period ends at the server's clock
  document.getElementById("csv").href = `/api/kpis?${query}&format=csv`;
  if (hotspots) document.getElementById("hotmap").src = `/maps/hotspots?days=${days}`;
  const [units, total] = await Promise.all([fetch(`/api/kpis?${query}`).then(r => r.json()), fetch(`/api/kpis?level=all&days=${days}`).then(r => r.json())]);
  const none = {value: null, numerator: 0, denominator: 0};
  const all = total.units[0] || {requests: 0, response_minutes: {p50: null, p90: null}, resolution_rate: none, on_time_rate: none, satisfaction_rate: none};
  const tiles = document.getElementById("tiles"); tiles.innerHTML = "";
  const add = (name, value, sub) => { const d = document.createElement("div"); d.className = "tile kpi-tile"; d.innerHTML = `${name}<b>${value}</b><span class="muted">${sub}</span>`; tiles.appendChild(d); };
  {
    add(T("诉求", "Requests"), all.requests, T(`近 ${days} 天`, `last ${days} days`));
    add(T("响应 p50", "Response p50"), (all.response_minutes.p50 ?? "—") + T(" 分", " min"), `p90 ${all.response_minutes.p90 ?? "—"}`);
    add(T("办结率", "Resolved"), pct(all.resolution_rate), `${all.resolution_rate.numerator} / ${all.resolution_rate.denominator}`);
    add(T("按时办结率", "On time"), pct(all.on_time_rate), `${all.on_time_rate.numerator} / ${all.on_time_rate.denominator}`);
    add(T("满意率", "Satisfied"), pct(all.satisfaction_rate), `${all.satisfaction_rate.numerator} / ${all.satisfaction_rate.denominator}`);
  }
  const rows = units.units.slice(0, 40), labels = rows.map(u => u.unit_name);
  const value = k => rows.map(u => (u[k].value === null ? null : +(u[k].value * 100).toFixed(1)));
  chart("rates", {type: "bar", data: {labels, datasets: [
    {label: T("办结率", "Resolved") + " %", data: value("resolution_rate"), backgroundColor: "#1a73e8"},
    {label: T("按时办结率", "On time") + " %", data: value("on_time_rate"), backgroundColor: "#188038"},
    {label: T("满意率", "Satisfied") + " %", data: value("satisfaction_rate"), backgroundColor: "#f29900"}]},
    options: {animation: false, scales: {y: {min: 0, max: 100}}}});
  chart("response", {type: "bar", data: {labels, datasets: [
    {label: "p50", data: rows.map(u => u.response_minutes.p50), backgroundColor: "#5e97f6"},
    {label: "p90", data: rows.map(u => u.response_minutes.p90), backgroundColor: "#c62828"}]}, options: {animation: false}});
  const head = document.querySelector("#kpi thead"), body = document.querySelector("#kpi tbody");
  head.innerHTML = `<tr><th>${T("单元", "Unit")}</th><th>${T("诉求", "Requests")}</th><th>p50</th><th>p90</th><th>${T("办结率", "Resolved")}</th><th>${T("按时", "On time")}</th><th>${T("满意率（居民评单）", "Satisfied (residents)")}</th><th>${T("回访满意率", "Satisfied (call-backs)")}</th></tr>`;
  body.innerHTML = "";
  for (const u of units.units) {
    const tr = body.insertRow();
    for (const v of [u.unit_name, u.requests, u.response_minutes.p50 ?? "—", u.response_minutes.p90 ?? "—",
      `${pct(u.resolution_rate)} (${u.resolution_rate.numerator}/${u.resolution_rate.denominator})`,
      `${pct(u.on_time_rate)} (${u.on_time_rate.numerator}/${u.on_time_rate.denominator})`,
      `${pct(u.satisfaction_rate)} (${u.satisfaction_rate.numerator}/${u.satisfaction_rate.denominator})`,
      `${pct(u.callback_satisfaction_rate)} (${u.callback_satisfaction_rate.numerator}/${u.callback_satisfaction_rate.denominator})`]) tr.insertCell().textContent = v;
  }
}
let hotspots = false;
document.getElementById("level").onchange = refresh;
document.getElementById("days").onchange = refresh;
fetch("/api/me").then(r => (r.ok ? r.json() : {links: []})).then(me => {
  hotspots = me.links.some(l => l.href === "/maps/hotspots");
  document.getElementById("hotmap-card").hidden = !hotspots;
  refresh();
});
