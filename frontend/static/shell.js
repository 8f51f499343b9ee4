// The shared header of every work page (<div id="gm-shell" data-title="…" data-title-en="…"></div>): title,
// the signed-in role and unit by name, the pages this role may open (links from /api/me, decided by the server's
// policy), the notification slot <span id="gm-notify"> (filled by notify.js), the 待办 count, language and sign out.
// Everything a user or data can set goes in with textContent. window.gridmapShell.me is the /api/me promise.
// What a page puts inside the div (e.g. the report form's online/offline badge) stays, beside the title.
(function () {
  const root = document.getElementById("gm-shell");
  const lang = localStorage.getItem("gridmap.lang") || "zh";
  const T = (zh, en) => (lang === "en" ? en : zh);
  const make = (tag, props = {}, text) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === "class") node.className = v; else node.setAttribute(k, v);
    }
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const me = fetch("/api/me", {credentials: "same-origin"}).then(r => (r.ok ? r.json() : Promise.reject(r.status)));
  window.gridmapShell = {me, lang, T};
  if (!root) return;

  const bar = make("header", {class: "gm-shell", role: "banner"});
  const top = make("div", {class: "gm-top"});
  const home = make("a", {class: "gm-brand", href: "/"}, T("网格化管理", "gridmap"));
  const title = make("strong", {class: "gm-title"}, T(root.dataset.title || "", root.dataset.titleEn || root.dataset.title || ""));
  const own = Array.from(root.children);
  const who = make("span", {class: "gm-who", id: "gm-who"});
  const notify = document.getElementById("gm-notify") || make("span", {id: "gm-notify"});
  const toggle = make("a", {href: "#", id: "gm-lang", class: "gm-button"}, lang === "en" ? "简体中文" : "English");
  toggle.addEventListener("click", e => {
    e.preventDefault();
    localStorage.setItem("gridmap.lang", lang === "en" ? "zh" : "en");
    location.reload();
  });
  const out = make("form", {method: "post", action: "/logout", class: "gm-out"});
  out.appendChild(make("button", {type: "submit", class: "gm-button", id: "gm-signout"}, T("退出", "Sign out")));
  top.append(home, title, ...own, who, notify, toggle, out);
  const nav = make("nav", {class: "gm-nav", "aria-label": T("页面", "Pages")});
  bar.append(top, nav);
  root.replaceChildren(bar);

  me.then(user => {
    who.replaceChildren(make("span", {class: "gm-name"}, lang === "en" ? user.display_name_en : user.display_name));
    if (user.unit_code) who.appendChild(make("span", {class: "gm-code"}, user.unit_code));
    who.title = user.username;
    const here = location.pathname;
    for (const link of user.links) {
      const a = make("a", {href: link.href}, T(link.zh, link.en));
      if (link.href === here) a.setAttribute("aria-current", "page");
      if (link.href === "/" && user.has_todo) {
        const count = make("span", {class: "gm-count", id: "gm-todo-count", hidden: ""});
        a.appendChild(count);
        fetch("/api/requests?todo=true&limit=1", {credentials: "same-origin"})
          .then(r => (r.ok ? r.json() : null))
          .then(page => {
            if (page && page.total > 0) { count.textContent = String(page.total); count.hidden = false; }
          })
          .catch(() => {});  // offline (the report form works without network): no count, no error
      }
      nav.appendChild(a);
    }
  }).catch(() => { who.textContent = T("未登录", "not signed in"); });
})();
