/* regcode pages: search within the page (and across the site, from search-index.js), filters, and
   the highlighting of matched facts when a why is unfolded. Text from policies and cases is only
   ever set with textContent; nothing here builds markup from data. Works from file://: no fetch. */
(function () {
  "use strict";
  var root = document.body.getAttribute("data-root") || "";

  function norm(s) { return (s || "").toLowerCase(); }

  /* ---- search: filter this page's [data-search] blocks, list hits from the site index ---- */
  var input = document.getElementById("q");
  var panel = document.getElementById("search-results");
  var status = document.getElementById("search-status");
  var blocks = Array.prototype.slice.call(document.querySelectorAll("[data-search]"));
  var index = window.REGCODE_SEARCH || [];

  function filterPage(q) {
    var shown = 0;
    blocks.forEach(function (el) {
      var hit = !q || norm(el.textContent).indexOf(q) !== -1;
      el.classList.toggle("filtered-out", !hit);
      if (hit) { shown += 1; }
    });
    document.querySelectorAll(".chapter-group").forEach(function (g) {   // a chapter shows while any of its articles does
      g.classList.toggle("filtered-out", !!q && !g.querySelector(".art:not(.filtered-out)"));
    });
    if (status) { status.textContent = q ? shown + " of " + blocks.length + " on this page match \u201c" + q + "\u201d" : ""; }
  }

  function listSite(q) {
    if (!panel) { return; }
    while (panel.firstChild) { panel.removeChild(panel.firstChild); }
    if (!q || !index.length) { panel.hidden = true; return; }
    var hits = [];
    for (var i = 0; i < index.length && hits.length < 60; i++) {
      var e = index[i];
      if (norm(e.t).indexOf(q) !== -1 || norm(e.x).indexOf(q) !== -1) { hits.push(e); }
    }
    var head = document.createElement("div");
    head.className = "head";
    head.textContent = hits.length ? "In the whole site" + (hits.length >= 60 ? " (first 60)" : "") : "Nothing in the site matches";
    panel.appendChild(head);
    hits.forEach(function (e) {
      var a = document.createElement("a");
      a.href = root + e.u;
      var kind = document.createElement("span");
      kind.className = "kind";
      kind.textContent = e.k;
      var title = document.createElement("span");
      title.textContent = e.t;
      var where = document.createElement("span");
      where.className = "where";
      where.textContent = e.v;
      a.appendChild(kind); a.appendChild(title); a.appendChild(where);
      panel.appendChild(a);
    });
    panel.hidden = false;
  }

  if (input) {
    input.addEventListener("input", function () {
      var q = norm(input.value.trim());
      filterPage(q);
      listSite(q);
    });
    input.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape") { input.value = ""; filterPage(""); listSite(""); }
    });
    document.addEventListener("keydown", function (ev) {
      if (ev.key === "/" && document.activeElement !== input) { ev.preventDefault(); input.focus(); }
    });
    document.addEventListener("click", function (ev) {
      if (panel && !panel.contains(ev.target) && ev.target !== input) { panel.hidden = true; }
    });
  }

  /* ---- status filters on the articles page ---- */
  document.querySelectorAll("button[data-filter]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var want = btn.getAttribute("data-filter");
      document.querySelectorAll("button[data-filter]").forEach(function (b) { b.setAttribute("aria-pressed", String(b === btn)); });
      document.querySelectorAll(".art[data-status]").forEach(function (el) {
        el.classList.toggle("status-hidden", want !== "all" && el.getAttribute("data-status") !== want);
      });
    });
  });

  /* ---- an unfolded why lights up the facts it matched in the view of the case file ---- */
  function light(el, on) {
    (el.getAttribute("data-targets") || "").split(" ").forEach(function (id) {
      var t = id && document.getElementById(id);
      if (t) { t.classList.toggle("hl", on); }
    });
  }
  function reveal(d) {   // bring the first lit fact (as_of aside: it is always at the top) into the case view
    var ev = d.closest(".evaluation");
    var view = ev && ev.querySelector(".case-view");
    var lit = view ? Array.prototype.slice.call(view.querySelectorAll(".row.hl")) : [];
    var first = lit.filter(function (r) { return r.title !== "as_of"; })[0] || lit[0];
    if (first && view.scrollHeight > view.clientHeight) {
      view.scrollTop = Math.max(0, first.offsetTop - view.clientHeight / 3);
    }
  }
  document.querySelectorAll("details.why").forEach(function (d) {
    d.addEventListener("toggle", function () {
      d.querySelectorAll("[data-targets]").forEach(function (c) { light(c, d.open); });
      if (d.open) { reveal(d); }
    });
  });
  document.querySelectorAll(".claim[data-targets]").forEach(function (c) {
    c.addEventListener("mouseenter", function () { light(c, true); });
    c.addEventListener("mouseleave", function () {
      var d = c.closest("details.why");
      if (!d || !d.open) { light(c, false); }
    });
  });
  // a printed page (attached to the case's file) shows every why
  var folded = [];
  window.addEventListener("beforeprint", function () {
    folded = Array.prototype.filter.call(document.querySelectorAll("details.why"), function (d) { return !d.open; });
    folded.forEach(function (d) { d.open = true; });
  });
  window.addEventListener("afterprint", function () { folded.forEach(function (d) { d.open = false; }); folded = []; });

  var all = document.getElementById("unfold-all");
  if (all) {
    all.addEventListener("click", function () {
      var open = all.getAttribute("aria-pressed") !== "true";
      all.setAttribute("aria-pressed", String(open));
      all.textContent = open ? "Fold every why" : "Unfold every why";
      document.querySelectorAll("details.why").forEach(function (d) { d.open = open; });
    });
  }
})();
