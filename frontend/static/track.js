// A resident's page of their request (/public/requests/{id}#token=…): status and trail in Chinese, and the
// rating (评单, 1–5★ with a comment) once the request is checked, through Open311's rating endpoint.
const EN = {title: "Progress", newReport: "Report a problem", number: "Request", trail: "What happened",
  rate: "Rate it", rateHint: "The request is done and checked: rate the result (1–5 stars).", commentHint: "Your comment (optional)",
  sendRating: "Send rating", yourRating: "Your rating"};
const lang = gridmapI18n(EN);
const T = (zh, en) => (lang === "en" ? en : zh);
const $ = id => document.getElementById(id);
document.querySelectorAll("[data-i18n-placeholder]").forEach(el => {
  if (lang === "en" && EN[el.dataset.i18nPlaceholder]) el.placeholder = EN[el.dataset.i18nPlaceholder];
});
const requestId = Number(location.pathname.split("/").pop());
// The token is in the link's fragment, which the browser never sends; links made before carry it as ?token=,
// moved into the fragment here so that a reload or a shared address no longer sends it to the server.
const token = new URLSearchParams(location.hash.slice(1)).get("token") || new URLSearchParams(location.search).get("token") || "";
if (new URLSearchParams(location.search).has("token")) history.replaceState(null, "", `${location.pathname}#token=${encodeURIComponent(token)}`);
let stars = 0;

function fail(text) { $("error").textContent = text; $("error").hidden = false; }

async function load() {
  let data;
  try {
    const r = await fetch(`/public/api/requests/${requestId}`, {headers: {"X-Request-Token": token}});
    data = await r.json().catch(() => ({}));
    if (!r.ok) { fail(data.detail || T("无法读取该事件", "Could not read the request")); return; }
  } catch (e) { fail(T("没有网络,请稍后再试", "No network: try again later")); return; }
  $("rid").textContent = `#${data.id}`;
  $("category").textContent = T(data.category_name, data.category_name_en);
  $("status").textContent = T(data.status_zh, data.status_en);
  $("status").dataset.status = data.status;
  $("grid").textContent = data.grid_name || data.grid_code ? T(`所属网格:${data.grid_name || data.grid_code}`, `Grid: ${data.grid_name || data.grid_code}`) : "";
  $("description").textContent = data.description || "";
  if (data.merged_into) {
    $("merged").textContent = T(`已与附近相同的事件合并办理,该事件当前:${data.merged_into.status_zh}`, `Merged with the same case nearby, which is now: ${data.merged_into.status}`);
    $("merged").hidden = false;
  }
  const trail = $("trail");
  trail.replaceChildren();
  for (const e of data.trail) {
    const li = document.createElement("li");
    const time = document.createElement("time");
    time.dateTime = e.at;
    time.textContent = new Date(e.at).toLocaleString(lang === "en" ? "en" : "zh-CN", {timeZone: "Asia/Shanghai"});  // as staff see it
    const what = document.createElement("span");
    what.textContent = `${e.role_zh} · ${e.action_zh}` + (e.department ? ` → ${e.department}` : "");
    li.append(time, what);
    trail.appendChild(li);
  }
  $("rate-box").hidden = !data.can_rate;
  if (data.rating) {
    $("rated").textContent = "★".repeat(data.rating) + "☆".repeat(5 - data.rating) + (data.rating_comment ? ` · ${data.rating_comment}` : "");
    $("rated-box").hidden = false;
  }
}

function showStars() {
  const box = $("stars");
  box.replaceChildren();
  for (let n = 1; n <= 5; n++) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = "★";
    b.dataset.stars = String(n);
    b.className = n <= stars ? "on" : "";
    b.setAttribute("role", "radio");
    b.setAttribute("aria-checked", String(n === stars));
    b.setAttribute("aria-label", T(`${n} 星`, `${n} stars`));
    b.addEventListener("click", () => { stars = n; showStars(); });
    box.appendChild(b);
  }
}

$("send-rating").addEventListener("click", async () => {
  if (!stars) { fail(T("请先选择星级", "Choose the stars first")); return; }
  const body = new URLSearchParams({token, stars: String(stars), comment: $("comment").value.trim()});
  $("send-rating").disabled = true;
  try {
    const r = await fetch(`/open311/v2/requests/${requestId}/rating.json`, {method: "POST", body});
    const data = await r.json().catch(() => null);
    if (!r.ok) { fail((Array.isArray(data) && data[0] && data[0].description) || T("评价未能提交", "The rating was not accepted")); return; }
    $("error").hidden = true;
    await load();
  } catch (e) { fail(T("没有网络,请稍后再试", "No network: try again later")); }
  finally { $("send-rating").disabled = false; }
});

showStars();
load();
