// 户数台账: upload a 社区's Excel ledger, see what matches (a dry run), then store it. Text from the file goes in
// with textContent only.
const lang = gridmapI18n({
  heading: "Import household counts from a community ledger",
  hint: "Upload an Excel (.xlsx) ledger, one building a row, with a 户数 column and a 楼栋名称 or 地址 column (a 小区 column helps). Check first, then import; only rows that name exactly one building are stored.",
  file: "Ledger file", check: "Check", resultTitle: "Result", store: "Import", row: "Row", text: "Building / address",
  count: "Households", reason: "Why not matched",
});
const T = (zh, en) => (lang === "en" ? en : zh);
const $ = id => document.getElementById(id);
const inLanguage = message => (lang === "en" && message.includes(" / ") ? message.slice(message.indexOf(" / ") + 3) : message.split(" / ")[0]);

async function send(dryRun) {
  const file = $("file").files[0];
  $("error").hidden = true;
  if (!file) { $("error").textContent = T("请先选择台账文件", "Choose the ledger file first"); $("error").hidden = false; return null; }
  const body = new FormData();
  body.append("file", file);
  const response = await fetch(`/api/imports/households?dry_run=${dryRun}`, {method: "POST", body, credentials: "same-origin"});
  const answer = await response.json().catch(() => ({detail: T("服务器没有回答", "No answer from the server")}));
  if (!response.ok) {
    const detail = typeof answer.detail === "string" ? answer.detail : T("文件有误", "The file was refused");
    $("error").textContent = inLanguage(detail);
    $("error").hidden = false;
    return null;
  }
  return answer;
}

function show(report) {
  $("result").hidden = false;
  const done = report.dry_run
    ? T(`共 ${report.rows} 行：${report.matched} 行对上楼栋（其中 ${report.updated} 栋户数将更新），${report.not_matched} 行未对上。`,
        `${report.rows} rows: ${report.matched} match a building (${report.updated} will change), ${report.not_matched} do not.`)
    : T(`已导入：${report.updated} 栋楼的户数已更新，${report.unchanged} 栋不变，${report.not_matched} 行未导入。`,
        `Imported: ${report.updated} buildings updated, ${report.unchanged} unchanged, ${report.not_matched} rows not imported.`);
  $("summary").textContent = done;
  $("store").hidden = !(report.dry_run && report.updated > 0);
  const body = $("problems").querySelector("tbody");
  body.replaceChildren();
  for (const p of report.problems) {
    const tr = body.insertRow();
    for (const v of [p.row, p.text, p.households ?? "—", inLanguage(p.reason)]) tr.insertCell().textContent = String(v);
  }
  $("problems").hidden = report.problems.length === 0;
}

$("upload").addEventListener("submit", async event => {
  event.preventDefault();
  $("check").disabled = true;
  try { const report = await send(true); if (report) show(report); } finally { $("check").disabled = false; }
});
$("store").addEventListener("click", async () => {
  $("store").disabled = true;
  try { const report = await send(false); if (report) show(report); } finally { $("store").disabled = false; }
});
$("file").addEventListener("change", () => { $("result").hidden = true; });
$("check").disabled = false;  // the page is usable once its handlers are attached
