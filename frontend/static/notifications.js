// The 通知 page: my notifications newest first (all or unread), each linking to its request, marked read one by
// one, on opening the request, or all at once; new ones arrive live through notify.js.
(function () {
  const lang = gridmapI18n({title: "Notifications", home: "Workbench", heading: "Notifications", all: "All",
    unread: "Unread", readAll: "Mark all read", empty: "No notifications", more: "Load more"});
  const en = lang === "en";
  const T = (zh, english) => (en ? english : zh);
  const PAGE = 20;
  const list = document.getElementById("notify-list");
  const state = {unreadOnly: false, offset: 0, total: 0, shown: new Set()};

  // The shared header (shell.js), once drawn, carries the badge: the page's own bar then goes.
  const shell = document.getElementById("gm-shell");
  const dropFallback = () => { if (shell.children.length) document.getElementById("notify-fallback-bar")?.remove(); };
  new MutationObserver(dropFallback).observe(shell, {childList: true});
  dropFallback();

  function when(iso) {
    const d = new Date(iso);
    const pad = n => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }

  function kindLabel(item) {
    if (item.action === "reject") return T("核查不通过", "Failed verification");
    return en ? item.kind_name_en : item.kind_name;
  }

  function span(cls, text) {
    const el = document.createElement("span");
    el.className = cls;
    el.textContent = text;
    return el;
  }

  function row(item) {
    const li = document.createElement("li");
    li.className = "notify-item" + (item.read ? "" : " unread");
    li.dataset.id = item.id;
    const head = document.createElement("div");
    head.className = "notify-head";
    head.append(span(`notify-kind kind-${item.kind}`, kindLabel(item)));
    if (item.stage) head.append(span("notify-stage", en ? item.stage_name_en : item.stage_name));
    const link = document.createElement("a");
    link.className = "notify-req";
    link.href = item.url;
    link.textContent = `#${item.request_id}`;
    link.addEventListener("click", () => { if (!li.classList.contains("read-done")) markRead([item.id], true); });
    head.append(link, span("notify-cat", (en ? item.category_name_en : item.category_name) || item.category || ""));
    const meta = document.createElement("div");
    meta.className = "notify-meta";
    const parts = [when(item.created_at), T("状态：", "Status: ") + (en ? item.status_name_en : item.status_name)];
    if (item.due) parts.push(T("截止 ", "Due ") + when(item.due));
    if (item.reason) parts.push(T("原因：", "Reason: ") + item.reason);
    if (item.address) parts.push(item.address);
    const time = document.createElement("time");
    time.dateTime = item.created_at;
    time.textContent = parts.join(" · ");
    meta.append(time);
    li.append(head, meta);
    if (!item.read) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "notify-read";
      button.textContent = T("标为已读", "Mark read");
      button.addEventListener("click", () => markRead([item.id]));
      li.append(button);
    }
    return li;
  }

  function showError(text) {
    const box = document.getElementById("error");
    box.textContent = text;
    box.hidden = !text;
  }

  function summary(unread) {
    document.getElementById("summary").textContent = T(`共 ${state.total} 条，未读 ${unread} 条`, `${state.total} in all, ${unread} unread`);
    document.getElementById("empty").hidden = state.total > 0;
    document.getElementById("more").hidden = state.offset >= state.total;
  }

  async function load(reset) {
    if (reset) { state.offset = 0; state.shown.clear(); list.replaceChildren(); }
    const query = `limit=${PAGE}&offset=${state.offset}` + (state.unreadOnly ? "&unread=true" : "");
    const response = await fetch(`/api/notifications?${query}`, {credentials: "same-origin"});
    if (!response.ok) return showError(T("通知加载失败，请稍后重试", "Could not load notifications; try again"));
    showError("");
    const page = await response.json();
    state.total = page.total;
    for (const item of page.items) {
      if (state.shown.has(item.id)) continue;
      state.shown.add(item.id);
      list.append(row(item));
    }
    state.offset += page.items.length;
    summary(page.unread);
    window.gridmapNotify?.set(page.unread);
  }

  async function markRead(ids, leaving) {
    const body = ids ? {ids} : {all: true};
    const response = await fetch("/api/notifications/read", {
      method: "POST", credentials: "same-origin", keepalive: Boolean(leaving),
      headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
    });
    if (!response.ok) {
      const detail = (await response.json().catch(() => ({}))).detail;
      return showError(typeof detail === "string" ? detail : T("标记失败，请重试", "Could not mark as read; try again"));
    }
    const result = await response.json();
    const rows = ids ? ids.map(id => list.querySelector(`li[data-id="${Number(id)}"]`)) : [...list.children];
    for (const li of rows) {
      if (!li) continue;
      li.classList.remove("unread");
      li.classList.add("read-done");
      li.querySelector(".notify-read")?.remove();
    }
    window.gridmapNotify?.set(result.unread);
    if (state.unreadOnly && !leaving) return load(true);
    summary(result.unread);
  }

  function tab(unreadOnly) {
    state.unreadOnly = unreadOnly;
    document.getElementById("tab-all").setAttribute("aria-pressed", String(!unreadOnly));
    document.getElementById("tab-unread").setAttribute("aria-pressed", String(unreadOnly));
    load(true);
  }

  document.getElementById("tab-all").addEventListener("click", () => tab(false));
  document.getElementById("tab-unread").addEventListener("click", () => tab(true));
  document.getElementById("read-all").addEventListener("click", () => markRead(null));
  document.getElementById("more").addEventListener("click", () => load(false));
  document.addEventListener("gridmap:notifications", e => {
    const fresh = e.detail.items.filter(item => !state.shown.has(item.id));
    for (const item of fresh.reverse()) {
      state.shown.add(item.id);
      list.prepend(row(item));
    }
    state.total += fresh.length;
    state.offset += fresh.length;
    summary(e.detail.unread);
  });
  load(true);
})();
