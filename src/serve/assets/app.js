// ddmd-pipe serve: the dashboard's pages, drawn from the JSON API. Everything a run recorded
// reaches the page through textContent or an attribute, never as HTML. Charts are SVG drawn
// here (no third-party code, no network).
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
  "#7f7f7f", "#bcbd22", "#17becf"];
// A fresh value per page load: a test (or a person) can tell a live update from a reload.
window.ddmdLoadId = Math.random().toString(36).slice(2);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

async function api(path) {
  const r = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await r.json().catch(() => ({ error: r.statusText }));
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

function fmt(v) {
  if (v === null || v === undefined) return "—";
  if (typeof v !== "number") return String(v);
  if (!isFinite(v)) return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e9) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(3);
  // Six significant digits, trailing zeros dropped by the number itself (4999.5, 0.25, 5000).
  return String(Number(v.toPrecision(6)));
}

function fmtDuration(s) {
  if (s === null || s === undefined) return "—";
  if (s < 60) return s.toFixed(1) + " s";
  if (s < 3600) return (s / 60).toFixed(1) + " min";
  return (s / 3600).toFixed(2) + " h";
}

// A JSON parameter value as text: strings without their quotes.
function paramText(json) {
  if (json === undefined) return "—";
  try {
    const v = JSON.parse(json);
    return typeof v === "string" ? v : JSON.stringify(v);
  } catch (e) {
    return json;
  }
}

function live(on) {
  const s = document.getElementById("live");
  if (s) s.textContent = on ? "● live" : "";
}

function showError(where, err) {
  where.replaceChildren(el("p", { class: "error" }, "error: " + err.message));
}

// ---------------------------------------------------------------------------------------
// Charts

function niceTicks(lo, hi, n) {
  if (!(hi > lo)) { hi = lo + 1; lo = lo - 1; }
  const raw = (hi - lo) / n;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || 10 * mag;
  const out = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) {
    out.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  }
  return out;
}

// At most `max` points of a series for drawing (every k-th, and always the last).
function thin(points, max) {
  if (points.length <= max) return points;
  const k = Math.ceil(points.length / max);
  const out = points.filter((_, i) => i % k === 0);
  if (out[out.length - 1] !== points[points.length - 1]) out.push(points[points.length - 1]);
  return out;
}

// A line chart of several series: {name, color, points: [[step, value]], visible}. Legend
// entries toggle series; hovering shows every visible series' value at the nearest step.
class Chart {
  constructor(parent, key) {
    this.key = key;
    this.series = [];
    this.box = el("figure", { class: "chart", "data-key": key });
    this.box.append(el("figcaption", {}, key));
    this.svg = svg("svg", { viewBox: "0 0 640 300", role: "img", "aria-label": key });
    this.box.append(this.svg);
    this.legend = el("div", { class: "legend" });
    this.box.append(this.legend);
    this.tip = el("div", { class: "tip", hidden: "" });
    this.box.append(this.tip);
    parent.append(this.box);
    this.svg.addEventListener("mousemove", (ev) => this.hover(ev));
    this.svg.addEventListener("mouseleave", () => { this.tip.hidden = true; this.draw(); });
  }

  add(name, color) {
    const s = { name, color, points: [], visible: true };
    this.series.push(s);
    return s;
  }

  geometry() {
    const pts = this.series.filter((s) => s.visible).flatMap((s) => s.points)
      .filter((p) => p[1] !== null && isFinite(p[1]));
    const W = 640, H = 300, L = 64, R = 12, T = 12, B = 36;
    if (!pts.length) return { empty: true, W, H, L, R, T, B };
    let x0 = Math.min(...pts.map((p) => p[0])), x1 = Math.max(...pts.map((p) => p[0]));
    let y0 = Math.min(...pts.map((p) => p[1])), y1 = Math.max(...pts.map((p) => p[1]));
    if (x1 === x0) { x0 -= 1; x1 += 1; }
    if (y1 === y0) { const d = Math.abs(y0) * 0.1 || 1; y0 -= d; y1 += d; }
    const pad = (y1 - y0) * 0.05; y0 -= pad; y1 += pad;
    const sx = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
    const sy = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
    return { W, H, L, R, T, B, x0, x1, y0, y1, sx, sy };
  }

  draw(hoverStep) {
    const g = this.geometry();
    const s = this.svg;
    s.replaceChildren();
    const total = this.series.reduce((n, x) => n + x.points.length, 0);
    this.box.setAttribute("data-points", String(total));
    if (g.empty) {
      const t = svg("text", { x: 320, y: 150, "text-anchor": "middle", class: "muted" });
      t.textContent = "no points yet";
      s.append(t);
      this.drawLegend();
      return;
    }
    for (const t of niceTicks(g.y0, g.y1, 5)) {
      const y = g.sy(t);
      s.append(svg("line", { x1: g.L, x2: g.W - g.R, y1: y, y2: y, class: "grid" }));
      const lab = svg("text", { x: g.L - 6, y: y + 4, "text-anchor": "end", class: "tick" });
      lab.textContent = fmt(t);
      s.append(lab);
    }
    for (const t of niceTicks(g.x0, g.x1, 6)) {
      const x = g.sx(t);
      s.append(svg("line", { x1: x, x2: x, y1: g.T, y2: g.H - g.B, class: "grid" }));
      const lab = svg("text", { x, y: g.H - g.B + 16, "text-anchor": "middle", class: "tick" });
      lab.textContent = fmt(t);
      s.append(lab);
    }
    const xl = svg("text", { x: (g.L + g.W - g.R) / 2, y: g.H - 4, "text-anchor": "middle", class: "axis" });
    xl.textContent = "step";
    s.append(xl);
    for (const se of this.series) {
      if (!se.visible) continue;
      const pts = thin(se.points.filter((p) => p[1] !== null && isFinite(p[1])), 2000);
      if (!pts.length) continue;
      const d = pts.map((p, i) => (i ? "L" : "M") + g.sx(p[0]).toFixed(1) + " " + g.sy(p[1]).toFixed(1)).join("");
      s.append(svg("path", { d, class: "series", stroke: se.color, "data-series": se.name }));
      if (pts.length === 1) {
        s.append(svg("circle", { cx: g.sx(pts[0][0]), cy: g.sy(pts[0][1]), r: 3, fill: se.color }));
      }
    }
    if (hoverStep !== undefined) {
      const x = g.sx(hoverStep);
      s.append(svg("line", { x1: x, x2: x, y1: g.T, y2: g.H - g.B, class: "cursor" }));
    }
    this.drawLegend();
  }

  drawLegend() {
    this.legend.replaceChildren(...this.series.map((se) => {
      const b = el("button", {
        class: "key" + (se.visible ? "" : " off"),
        type: "button",
        "aria-pressed": String(se.visible),
        onclick: () => { se.visible = !se.visible; this.draw(); },
      }, el("span", { class: "swatch", style: null }), se.name);
      b.firstChild.style.background = se.color;
      return b;
    }));
  }

  hover(ev) {
    const g = this.geometry();
    if (g.empty) return;
    const r = this.svg.getBoundingClientRect();
    const x = ((ev.clientX - r.left) / r.width) * g.W;
    const step = g.x0 + ((x - g.L) / (g.W - g.L - g.R)) * (g.x1 - g.x0);
    let best = null;
    const rows = [];
    for (const se of this.series) {
      if (!se.visible || !se.points.length) continue;
      let p = se.points[0];
      for (const q of se.points) if (Math.abs(q[0] - step) < Math.abs(p[0] - step)) p = q;
      if (best === null || Math.abs(p[0] - step) < Math.abs(best - step)) best = p[0];
      rows.push([se, p]);
    }
    if (best === null) return;
    this.draw(best);
    this.tip.replaceChildren(el("div", { class: "muted" }, "step " + fmt(best)),
      ...rows.map(([se, p]) => {
        const d = el("div", {}, el("span", { class: "swatch" }), se.name + ": " + fmt(p[1]) +
          (p[0] !== best ? " (step " + fmt(p[0]) + ")" : ""));
        d.firstChild.style.background = se.color;
        return d;
      }));
    this.tip.hidden = false;
  }
}

// Follows one run's points: fetches what is new since the last seq and adds it to the charts
// of `charts` (key -> Chart), one series per run.
class PointFeed {
  constructor(runId, name, color, area, charts) {
    Object.assign(this, { runId, name, color, area, charts, last: -1, done: false, status: null });
    this.series = {};
  }

  // One poll a tick: a page far behind (a long run opened late) gets its backlog thinned by
  // the server and catches up over a few seconds instead of hammering it, and so the writer.
  async tick() {
    {
      const r = await api(`/api/runs/${this.runId}/points?after=${this.last}`);
      this.status = r.status;
      for (const [, key, step, value] of r.points) {
        let ch = this.charts.get(key);
        if (!ch) { ch = new Chart(this.area, key); this.charts.set(key, ch); sortCharts(this.area); }
        let se = this.series[key];
        if (!se) { se = ch.add(this.name, this.color); this.series[key] = se; }
        se.points.push([step, value]);
      }
      this.last = r.last_seq;
      if (r.thinned) this.area.setAttribute("data-thinned", "true");
      this.more = r.more;
    }
    // A finished run is followed until its backlog is read, a page of points a tick.
    this.done = !["queued", "running"].includes(this.status) && !this.more;
  }
}

function sortCharts(area) {
  const figs = [...area.children].sort((a, b) =>
    a.getAttribute("data-key").localeCompare(b.getAttribute("data-key")));
  area.replaceChildren(...figs);
}

async function follow(feeds, charts, onTick) {
  live(true);
  for (;;) {
    try {
      for (const f of feeds) if (!f.done) await f.tick();
      for (const ch of charts.values()) ch.draw();
      if (onTick) await onTick();
    } catch (e) {
      console.error(e);
    }
    if (feeds.every((f) => f.done)) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  live(false);
}

// ---------------------------------------------------------------------------------------
// Runs table

const RUN_COLUMNS = [
  ["id", "run", "id"], ["pipeline", "pipeline", null], ["stage", "stage", "stage"],
  ["job", "job", "job"], ["status", "status", "status"], ["devices", "devices", null],
  ["node", "node", null], ["duration", "duration", "duration"],
];

async function runsPage(app) {
  const q = new URLSearchParams(location.search);
  const state = {
    status: q.get("status") || "", stage: q.get("stage") || "", pipeline: q.get("pipeline") || "",
    param: q.get("param") || "", sort: q.get("sort") || "id", dir: q.get("dir") || "desc",
    offset: parseInt(q.get("offset") || "0", 10) || 0, limit: 100,
  };
  const selected = new Set();
  const filters = el("form", { class: "filters", id: "filters" });
  const table = el("table", { class: "runs", id: "runs" });
  const info = el("p", { class: "muted", id: "runs-info" });
  const compare = el("button", { type: "button", id: "compare", disabled: "" }, "Compare selected");
  compare.addEventListener("click", () => {
    location.href = "/compare?ids=" + [...selected].join(",");
  });
  const prev = el("button", { type: "button", id: "prev" }, "← newer");
  const next = el("button", { type: "button", id: "next" }, "older →");
  app.replaceChildren(el("h1", {}, "Runs"), filters,
    el("div", { class: "bar" }, compare, prev, next, info), table);

  function syncUrl() {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(state)) if (v !== "" && k !== "limit" && !(k === "offset" && v === 0)) p.set(k, v);
    history.replaceState(null, "", "/?" + p.toString());
  }

  function select(name, values, label) {
    const s = el("select", { name, id: "filter-" + name },
      el("option", { value: "" }, "any " + label), ...values.map((v) => el("option", { value: v }, v)));
    s.value = state[name];
    s.addEventListener("change", () => { state[name] = s.value; state.offset = 0; load(); });
    return el("label", {}, label + " ", s);
  }

  async function load() {
    syncUrl();
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(state)) if (v !== "") p.set(k, v);
    let page;
    try {
      page = await api("/api/runs?" + p.toString());
    } catch (e) {
      info.textContent = "error: " + e.message;
      return;
    }
    if (!filters.childElementCount) {
      const param = el("input", { name: "param", id: "filter-param", placeholder: "param=value", value: state.param });
      param.addEventListener("change", () => { state.param = param.value.trim(); state.offset = 0; load(); });
      filters.append(select("status", page.statuses, "status"), select("stage", page.stages, "stage"),
        select("pipeline", page.pipelines, "pipeline"), el("label", {}, "parameter ", param));
      filters.addEventListener("submit", (ev) => ev.preventDefault());
    }
    const cols = RUN_COLUMNS.map(([k, label, sort]) => ({ label, sort, get: (r) => cell(r, k) }))
      .concat(page.param_keys.map((k) => ({ label: k, sort: "param:" + k, get: (r) => paramText(r.params[k]), cls: "param" })))
      .concat(page.metric_keys.map((k) => ({ label: k, sort: "metric:" + k, get: (r) => fmt(r.metrics[k]), cls: "num" })));
    const head = el("tr", {}, el("th", {}, ""), ...cols.map((c) => {
      const active = c.sort && c.sort === state.sort;
      const th = el("th", { class: (c.sort ? "sortable" : "") + (active ? " sorted" : ""), "data-sort": c.sort || "" },
        c.label + (active ? (state.dir === "asc" ? " ▲" : " ▼") : ""));
      if (c.sort) th.addEventListener("click", () => {
        state.dir = state.sort === c.sort && state.dir === "desc" ? "asc" : "desc";
        state.sort = c.sort; state.offset = 0; load();
      });
      return th;
    }));
    const rows = page.runs.map((r) => {
      const box = el("input", { type: "checkbox", "data-run": r.run.id });
      box.checked = selected.has(r.run.id);
      box.addEventListener("change", () => {
        if (box.checked) selected.add(r.run.id); else selected.delete(r.run.id);
        compare.disabled = selected.size < 1;
        compare.textContent = `Compare selected (${selected.size})`;
      });
      return el("tr", { "data-run": r.run.id, "data-status": r.run.status }, el("td", {}, box),
        ...cols.map((c, i) => i === 0
          ? el("td", {}, el("a", { href: "/runs/" + r.run.id }, String(r.run.id)))
          : el("td", { class: c.cls || "" }, c.get(r))));
    });
    table.replaceChildren(el("thead", {}, head), el("tbody", {}, ...rows));
    const end = Math.min(state.offset + page.runs.length, page.total);
    info.textContent = page.total ? `runs ${state.offset + 1}–${end} of ${page.total}` : "no runs match";
    prev.disabled = state.offset === 0;
    next.disabled = end >= page.total;
  }

  function cell(r, k) {
    switch (k) {
      case "pipeline": return r.pipeline;
      case "stage": return r.run.stage;
      case "job": return r.run.job_name;
      case "status": return r.run.status;
      case "devices": return r.run.devices.length ? r.run.devices.join(",") : "cpu";
      case "node": return r.run.node || "—";
      case "duration": return fmtDuration(r.duration_s);
      default: return "";
    }
  }

  prev.addEventListener("click", () => { state.offset = Math.max(0, state.offset - state.limit); load(); });
  next.addEventListener("click", () => { state.offset += state.limit; load(); });
  await load();
  // The table follows running jobs: statuses, durations and final metrics change.
  setInterval(load, 5000);
}

// ---------------------------------------------------------------------------------------
// One run

async function runPage(app, id) {
  let d;
  try {
    d = await api("/api/runs/" + id);
  } catch (e) {
    showError(app, e);
    return;
  }
  const r = d.run;
  const status = el("span", { class: "status", id: "run-status" }, r.status);
  const charts = el("div", { class: "charts", id: "charts" });
  const log = el("pre", { class: "log", id: "log" });
  const events = el("ol", { class: "events", id: "events" });
  const artifacts = el("ul", { class: "artifacts", id: "artifacts" });
  app.replaceChildren(
    el("h1", {}, r.job_name),
    el("p", {}, "run " + r.id + " · stage " + r.stage + " (" + r.kind + ") · ", status,
      " · attempt " + r.attempt + " · " + (r.devices.length ? "GPU " + r.devices.join(",") : "cpu") +
      (r.node ? " · " + r.node : "") + " · " + fmtDuration(r.started_at && r.ended_at ? r.ended_at - r.started_at : null)),
    // replaceChildren would print a null as the text "null".
    r.error ? el("pre", { class: "error" }, r.error) : el("span"),
    el("h2", {}, "Curves"), charts,
    el("div", { class: "cols" },
      el("section", {}, el("h2", {}, "Parameters"), kvTable(d.params.map(([k, v]) => [k, paramText(v)]), "params")),
      el("section", {}, el("h2", {}, "Final metrics"), kvTable(d.metrics.map((m) => [m.key, fmt(m.value ?? m.raw)]), "metrics"))),
    el("h2", {}, "Artifacts"), artifacts,
    el("h2", {}, "Log (tail)"), log,
    el("h2", {}, "Events"), events);
  function showArtifacts(list) {
    artifacts.replaceChildren(...list.map((a) => {
      const href = "/files/" + r.id + "/" + a.path.split("/").map(encodeURIComponent).join("/");
      const li = el("li", {}, el("a", { href }, a.name + " — " + a.path));
      if (/\.(png|jpe?g|svg|webp)$/i.test(a.path)) li.append(el("img", { src: href, alt: a.name, loading: "lazy" }));
      return li;
    }));
    if (!list.length) artifacts.append(el("li", { class: "muted" }, "none"));
  }
  showArtifacts(d.artifacts);
  let shown = d.artifacts.length, ticks = 0;

  let eventsSeq = -1;
  async function more() {
    const e = await api(`/api/runs/${id}/events?after=${eventsSeq}`);
    for (const [seq, kind, , payload] of e.events) {
      const text = payload.message || payload.state || payload.name || JSON.stringify(payload);
      events.append(el("li", { "data-seq": seq }, el("span", { class: "muted" }, kind + " "), String(text)));
    }
    eventsSeq = e.last_seq;
    const t = await fetch(`/api/runs/${id}/log?bytes=16384`).then((x) => x.text());
    log.textContent = t;
  }
  const feed = new PointFeed(id, r.job_name, COLORS[0], charts, new Map());
  const map = feed.charts;
  await follow([feed], map, async () => {
    status.textContent = feed.status;
    await more();
    // Artifacts a running job reports appear as it reports them (checked every 5 s, and once
    // more at the end).
    if (++ticks % 5 === 0 || feed.done) {
      const now = await api("/api/runs/" + id);
      if (now.artifacts.length !== shown) { shown = now.artifacts.length; showArtifacts(now.artifacts); }
    }
  });
  if (!map.size) charts.append(el("p", { class: "muted" }, "no metric recorded"));
}

function kvTable(rows, id) {
  if (!rows.length) return el("p", { class: "muted" }, "none");
  return el("table", { class: "kv", id }, el("tbody", {}, ...rows.map(([k, v]) =>
    el("tr", {}, el("th", {}, k), el("td", {}, v)))));
}

// ---------------------------------------------------------------------------------------
// Compare

async function comparePage(app) {
  const ids = (new URLSearchParams(location.search).get("ids") || "").split(",").filter(Boolean);
  let c;
  try {
    c = await api("/api/compare?ids=" + ids.join(","));
  } catch (e) {
    showError(app, e);
    return;
  }
  const charts = el("div", { class: "charts", id: "charts" });
  const names = c.runs.map((r) => `${r.id}: ${r.job_name}`);
  const diff = Object.entries(c.differ);
  const table = diff.length
    ? el("table", { class: "kv", id: "differ" },
      el("thead", {}, el("tr", {}, el("th", {}, "parameter"), ...names.map((n) => el("th", {}, n)))),
      el("tbody", {}, ...diff.map(([k, vals]) => el("tr", {}, el("th", {}, k),
        ...vals.map((v) => el("td", {}, v === null ? "—" : paramText(v)))))))
    : el("p", { class: "muted" }, "the parameters are the same");
  app.replaceChildren(el("h1", {}, "Compare " + c.runs.length + " runs"),
    el("h2", {}, "Parameters that differ"), table, el("h2", {}, "Curves"), charts);
  const map = new Map();
  const feeds = c.runs.map((r, i) => new PointFeed(r.id, names[i], COLORS[i % COLORS.length], charts, map));
  await follow(feeds, map);
}

// ---------------------------------------------------------------------------------------
// Reports

async function reportsPage(app) {
  let r;
  try {
    r = await api("/api/reports");
  } catch (e) {
    showError(app, e);
    return;
  }
  const pub = el("ul", { id: "published" }, ...r.reports.map((x) =>
    el("li", {}, el("a", { href: `/files/${x.id}/report/index.html` }, x.pipeline + " — " + x.job + " (run " + x.id + ")"))));
  if (!r.reports.length) pub.append(el("li", { class: "muted" }, "no report stage has run yet"));
  const liveList = el("ul", { id: "live-reports" }, ...r.pipelines.map((p) =>
    el("li", {}, el("a", { href: "/live/" + encodeURIComponent(p) + "/report" }, p))));
  app.replaceChildren(el("h1", {}, "Reports"),
    el("h2", {}, "Published by report stages"), pub,
    el("h2", {}, "Rendered now from the database"),
    el("p", { class: "muted" }, "The latest invocation of each pipeline, with the same templates as the report stage."),
    liveList);
}

// ---------------------------------------------------------------------------------------

(function main() {
  const app = document.getElementById("app");
  const page = document.body.getAttribute("data-page");
  const run = document.body.getAttribute("data-run");
  const go = { runs: () => runsPage(app), run: () => runPage(app, parseInt(run, 10)),
    compare: () => comparePage(app), reports: () => reportsPage(app) }[page];
  if (go) go().catch((e) => showError(app, e));
})();
