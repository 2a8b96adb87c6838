/* Progressive enhancement only: every page works without this script.
   1. The municipality list: filter rows as the reader types.
   2. KPI pages: replace the static SVG chart by an interactive plotly chart when plotly has loaded.
   3. Long tables: fold the rows after the first few behind a button. */
(function () {
  "use strict";
  // 3. Long tables: the first rows, and a button for the others (every row is in the page and the downloads)
  Array.prototype.forEach.call(document.querySelectorAll(".table-wrap[data-fold]"), function (wrap) {
    var keep = parseInt(wrap.getAttribute("data-fold"), 10);
    var rows = Array.prototype.slice.call(wrap.querySelector("tbody").rows, keep);
    var button = document.createElement("button");
    button.type = "button";
    button.className = "fold";
    var set = function (open) {
      rows.forEach(function (row) { row.hidden = !open; });
      button.setAttribute("aria-expanded", open ? "true" : "false");
      button.textContent = open ? wrap.getAttribute("data-less") : wrap.getAttribute("data-more");
    };
    button.addEventListener("click", function () { set(button.getAttribute("aria-expanded") !== "true"); });
    wrap.parentNode.insertBefore(button, wrap.nextSibling);
    var first = Array.prototype.slice.call(wrap.querySelector("tbody").rows, 0, keep);
    wrap.refold = function () {
      first.forEach(function (row) { row.hidden = false; });
      button.hidden = false;
      set(button.getAttribute("aria-expanded") === "true");
    };
    wrap.unfold = function () { button.hidden = true; };
    set(false);
  });
  var q = document.getElementById("q");
  var table = document.getElementById("search-table");
  var count = document.getElementById("q-count");
  if (q && table) {
    q.closest(".search").hidden = false;  // the box is hidden in the page: without this script it cannot search
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    var lang = document.documentElement.lang;
    var timer = null;
    var apply = function () {
      // NFKC folds full-width letters and half-width kana; hiragana is matched against the katakana readings
      var needle = q.value.trim().toLowerCase().normalize("NFKC").replace(/[\u3041-\u3096]/g, function (ch) {
        return String.fromCharCode(ch.charCodeAt(0) + 0x60);
      });
      var wrap = table.parentNode;
      if (!needle && wrap.refold) {  // an empty box: back to the first rows and the button
        wrap.refold();
        count.textContent = "";
        return;
      }
      if (wrap.unfold) { wrap.unfold(); }
      var shown = 0;
      rows.forEach(function (row) {
        var hit = !needle || row.getAttribute("data-q").normalize("NFKC").indexOf(needle) !== -1;
        row.hidden = !hit;
        if (hit) { shown += 1; }
      });
      count.textContent = lang === "ja" ? shown + "件表示" : shown + " shown";
    };
    q.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(apply, 120); });
  }
  var upgrade = function () {
    if (!window.Plotly) { return; }
    Array.prototype.forEach.call(document.querySelectorAll(".plotly"), function (box) {
      var spec = JSON.parse(box.nextElementSibling.textContent);
      var traces = [{ x: spec.x, y: spec.y, type: "scatter", mode: "lines+markers", name: spec.name,
        line: { color: "#0645ad", width: 2.5 }, connectgaps: false }];
      spec.bands.forEach(function (b) {
        traces.push({ x: [b[0]], y: [b[1]], type: "scatter", mode: "markers", name: spec.fname,
          marker: { symbol: "diamond-open", size: 12, color: "#1b1b1b" },
          error_y: b[2] === null ? undefined : { type: "data", symmetric: false, array: [b[3] - b[1]],
            arrayminus: [b[1] - b[2]], color: "#4a6a9a", thickness: 6, width: 0 } });
      });
      spec.targets.forEach(function (tg) {
        traces.push({ x: [tg[0]], y: [tg[1]], type: "scatter", mode: "markers+text", name: spec.tname,
          text: [tg[2]], textposition: "top left", marker: { symbol: "x", size: 11, color: "#a4161a" } });
      });
      var holder = document.createElement("div");
      holder.setAttribute("role", "img");
      holder.setAttribute("aria-labelledby", box.getAttribute("data-labelledby"));
      box.replaceChildren(holder);
      window.Plotly.newPlot(holder, traces, { margin: { l: 50, r: 10, t: 10, b: 40 }, showlegend: false,
        height: 300, font: { size: 13, color: "#1b1b1b" } }, { displayModeBar: false, responsive: true });
    });
  };
  if (document.readyState === "complete") { upgrade(); } else { window.addEventListener("load", upgrade); }
})();
