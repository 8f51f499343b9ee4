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
