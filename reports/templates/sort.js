// Sortable ablation tables: a click on a column head orders the rows by that column (the
// cell's mean for a metric, the label for a row axis), a second click reverses. The data row
// (the floor or ceiling measured on the data) stays first; rows without a value go last in
// either direction. Inline and self-contained: the report opens from disk with no network.
(function () {
  "use strict";
  function key(row, col, metric) {
    var cell = row.children[col];
    if (!cell) return null;
    if (metric) {
      var m = cell.getAttribute("data-mean");
      return m === null ? null : parseFloat(m);
    }
    return cell.textContent.trim();
  }
  function compare(a, b, metric) {
    if (metric) return a - b;
    return a.localeCompare(b, undefined, { numeric: true, sensitivity: "base" });
  }
  function sortBy(table, th, col, metric) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var pinned = rows.filter(function (r) { return r.classList.contains("data"); });
    var rest = rows.filter(function (r) { return !r.classList.contains("data"); });
    var asc = th.getAttribute("aria-sort") !== "ascending";
    rest.sort(function (ra, rb) {
      var a = key(ra, col, metric), b = key(rb, col, metric);
      if (a === null || (metric && isNaN(a))) return (b === null || (metric && isNaN(b))) ? 0 : 1;
      if (b === null || (metric && isNaN(b))) return -1;
      var c = compare(a, b, metric);
      return asc ? c : -c;
    });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) {
      h.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    pinned.concat(rest).forEach(function (r) { body.appendChild(r); });
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.ablation"), function (table) {
    if (!table.tHead || !table.tBodies.length) return;
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      var metric = th.classList.contains("colhead");
      th.classList.add("sortable");
      th.setAttribute("tabindex", "0");
      th.title = (th.title ? th.title + " — " : "") + "click to sort";
      var go = function () { sortBy(table, th, col, metric); };
      th.addEventListener("click", go);
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); go(); }
      });
    });
  });
})();
