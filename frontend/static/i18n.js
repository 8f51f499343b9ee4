// 简体中文 is the page text; English strings are swapped in when chosen (kept in localStorage).
function gridmapI18n(english) {
  const lang = localStorage.getItem("gridmap.lang") || "zh";
  if (lang === "en") {
    document.documentElement.lang = "en";
    document.querySelectorAll("[data-i18n]").forEach(el => {
      const text = english[el.dataset.i18n];
      if (text) el.textContent = text;
    });
  }
  const toggle = document.getElementById("lang");
  if (toggle) {
    toggle.textContent = lang === "en" ? "简体中文" : "English";
    toggle.onclick = e => { e.preventDefault(); localStorage.setItem("gridmap.lang", lang === "en" ? "zh" : "en"); location.reload(); };
  }
  return lang;
}

// Text a user or a data file set (names, 楼栋长, addresses) goes into HTML only through this.
function escapeHtml(value) {
  return String(value ?? "").replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
}
