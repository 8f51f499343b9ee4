// The bell (🔔) badge of unread 通知 in the header's <span id="gm-notify"> (rendered by shell.js, or by the page itself),
// kept current by server-sent events from /api/notifications/stream; by polling when the stream cannot be used.
// Other scripts: window.gridmapNotify.set(n), .refresh(), and the document event "gridmap:notifications".
(function () {
  if (window.gridmapNotify) return;  // loaded twice (by a page and by the shared header): one stream is enough
  const en = (localStorage.getItem("gridmap.lang") || "zh") === "en";
  const POLL_MS = 30000;
  let unread = 0;
  let polling = null;

  // A drawn 🔔: phones and servers without a colour-emoji font show the emoji as a box.
  function bellIcon() {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "22");
    svg.setAttribute("height", "22");
    svg.setAttribute("aria-hidden", "true");
    svg.classList.add("gm-bell-icon");
    const path = document.createElementNS(ns, "path");
    path.setAttribute("fill", "currentColor");
    path.setAttribute("d", "M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2z");
    svg.append(path);
    return svg;
  }

  function render() {
    document.querySelectorAll("#gm-notify").forEach(slot => {
      let link = slot.querySelector("a.gm-bell");
      if (!link) {
        link = document.createElement("a");
        link.className = "gm-bell";
        link.href = "/notifications";
        link.append(bellIcon());
        const badge = document.createElement("span");
        badge.className = "gm-badge";
        link.append(badge);
        slot.replaceChildren(link);
      }
      const badge = link.querySelector(".gm-badge");
      badge.textContent = unread > 99 ? "99+" : String(unread);
      badge.hidden = unread === 0;
      link.title = en ? `Notifications: ${unread} unread` : `通知：${unread} 条未读`;
      link.setAttribute("aria-label", link.title);
    });
  }

  function set(n) {
    unread = Math.max(0, Number(n) || 0);
    render();
  }

  function refresh() {
    return fetch("/api/notifications/unread-count", {credentials: "same-origin"})
      .then(r => (r.ok ? r.json() : null))
      .then(body => { if (body) set(body.unread); })
      .catch(() => {});
  }

  function poll() {
    if (polling) return;
    refresh();
    polling = setInterval(refresh, POLL_MS);
  }

  function stream() {
    if (!("EventSource" in window)) return poll();
    const source = new EventSource("/api/notifications/stream");
    source.addEventListener("unread", e => set(JSON.parse(e.data).unread));
    source.addEventListener("notification", e => {
      const detail = JSON.parse(e.data);
      set(detail.unread);
      document.dispatchEvent(new CustomEvent("gridmap:notifications", {detail}));
    });
    // A stream the server refused (signed out, an error) is closed for good: fall back to polling.
    source.addEventListener("error", () => { if (source.readyState === EventSource.CLOSED) poll(); });
  }

  // The header may be drawn after this script runs (shell.js): fill every slot that appears.
  new MutationObserver(() => {
    if ([...document.querySelectorAll("#gm-notify")].some(slot => !slot.querySelector("a.gm-bell"))) render();
  }).observe(document.documentElement, {childList: true, subtree: true});

  // The stream is a request that never ends: opened once the page has loaded and its own requests are quiet,
  // so it does not hold up the page (nor tools that wait for the network to go idle).
  function whenQuiet(run) {
    let timer = null;
    const wait = () => { clearTimeout(timer); timer = setTimeout(done, 1500); };
    const observer = "PerformanceObserver" in window ? new PerformanceObserver(wait) : null;
    function done() { observer?.disconnect(); run(); }
    observer?.observe({type: "resource", buffered: false});
    wait();
  }

  window.gridmapNotify = {set, refresh};
  render();
  refresh();
  if (document.readyState === "complete") whenQuiet(stream);
  else window.addEventListener("load", () => whenQuiet(stream), {once: true});
})();
