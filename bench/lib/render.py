"""Renders the tables of docs/BENCHMARKS.md from the JSON that `bench/run --json FILE` writes
(issue 17): every figure in those tables comes from a measurement, none is typed by hand.

The doc holds blocks between marker comments; everything between a marker and `<!-- /bench -->`
is replaced, everything outside is left alone:

    <!-- bench:machine -->        how, where, when and under what load the JSON was measured
    <!-- bench:table IDS -->      comparison, ours, peer, ratio, goal, met? (one line per row)
    <!-- bench:reps IDS -->       every repetition of each side, with min / median / max / spread
    <!-- bench:notes IDS -->      what each row measured, as the comparison printed it

IDS is `all` or a comma-separated list of row ids (`1,2a`). Standard library only, so the
check in scripts/test needs no virtual environment. The driver uses the same functions for
the table it prints, so the terminal and the doc never disagree.
"""
import difflib
import json
import re
import sys
import tempfile
from pathlib import Path

MARKER = re.compile(r"<!-- bench:(\w+)(?: ([\w,]+))? -->\n(.*?)<!-- /bench -->", re.S)

# What `ratio_kind` says in the table (see common.py: paired_ratio).
RATIO_KIND = {
    "paired": "median of per-repetition ratios",
    "medians": "ratio of medians",
    "value": "our median against the fixed figure in the peer column",
}


class RenderError(ValueError):
    """The doc and the JSON do not fit together (unknown row id, unknown block, bad file)."""


def num(x):
    """Three significant digits, thousands separated from 1,000 on: 0.0272, 725, 453,112."""
    if x is None:
        return "—"
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:,.0f}"


def side(s, fixed=False):
    """One side of a row in the table: median, spread and number of repetitions (a fixed
    figure, such as a goal in the peer column, is printed alone)."""
    unit = f" {s['unit']}" if s["unit"] else ""
    if fixed:
        return f"{num(s['median'])}{unit}"
    return f"{num(s['median'])}{unit} ±{s['spread_pct']:.0f}% (n={s['n']})"


def ratio_cell(r):
    txt = num(r["ratio"])
    if r["ratio_kind"] == "paired":
        txt += " (paired)"
    return txt


def select(rows, ids):
    if ids in (None, "all"):
        return rows
    by_id = {r["id"]: r for r in rows}
    out = []
    for i in ids.split(","):
        if i not in by_id:
            raise RenderError(f"row `{i}` is not in the JSON (it has {', '.join(by_id)})")
        out.append(by_id[i])
    return out


def met(m):
    """The met? cell: a row without a goal (a bound shown for scale) has None."""
    if m is None:
        return "—"
    return "yes" if m else "**no**"


def table(rows):
    out = ["| comparison | ours | peer | ratio | goal | met? |", "|---|---|---|---|---|---|"]
    for r in rows:
        fixed = r["ratio_kind"] == "value"
        out.append(f"| {r['comparison']} | {side(r['ours'])} | {side(r['peer'], fixed)} | "
                   f"{ratio_cell(r)} | {r['goal']} | {met(r['met'])} |")
    return "\n".join(out)


def reps(rows):
    out = ["| row | side | n | min | median | max | spread ± | every repetition |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        for name in ("ours", "peer"):
            if name == "peer" and r["ratio_kind"] == "value":
                continue  # a goal or an ideal, not a measurement
            s = r[name]
            vals = ", ".join(num(v) for v in s["values"])
            unit = f" {s['unit']}" if s["unit"] else ""
            out.append(f"| {r['id']} | {name} | {s['n']} | {num(s['min'])} | {num(s['median'])} "
                       f"| {num(s['max'])} | {s['spread_pct']:.0f}% | {vals}{unit} |")
        if r.get("per_rep_ratios"):
            vals = ", ".join(num(v) for v in r["per_rep_ratios"])
            out.append(f"| {r['id']} | ours / peer | {len(r['per_rep_ratios'])} | | | | | {vals} |")
    return "\n".join(out)


def notes(rows):
    out = []
    for r in rows:
        kind = RATIO_KIND.get(r["ratio_kind"], r["ratio_kind"])
        out.append(f"- **{r['id']}** ({kind}): " + " ".join(r["notes"]))
    return "\n".join(out)


def load(xs):
    return " / ".join(f"{x:.2f}" for x in xs)


def machine(d):
    m = d["machine"]
    dirty = " with uncommitted changes" if d.get("dirty") else ""
    profile = d.get("profile", "release")
    lines = [
        f"`{d['command']}` on {d['date']}, commit {d['commit']}{dirty}, {d['seconds']:.0f} s in all"
        f", {profile} build.",
        "",
        f"Machine: `{m['host']}`, {m['cpu_model']}, {m['cores']} cores, no GPU used; "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + ".",
        "",
        f"**Load average (1 / 5 / 15 min): {load(m['load_start'])} at the start, "
        f"{load(m['load_end'])} at the end** ({m['cores']} cores: above {m['cores']} the "
        f"machine was oversubscribed and CPU-bound wall times are inflated).",
    ]
    lines += ["", "Time per comparison (1-minute load average at its end): "
              + ", ".join(f"{c['name']} {c['seconds']:.0f} s ({c['load_end']:.1f})"
                          for c in d["comparisons"]) + "."]
    if d["size"] == "tiny":
        lines += ["", "**Size `tiny`: this only shows that every comparison runs; its timings "
                      "and ratios mean nothing and no goal can be read from them.**"]
    if d.get("failed"):
        lines += ["", "Comparisons that failed to run: "
                  + ", ".join(f"`{name}`" for name, _ in d["failed"]) + "."]
    return "\n".join(lines)


BLOCKS = {"table": table, "reps": reps, "notes": notes}


def render(doc, data):
    """The doc with every marked block rendered from `data`. Raises RenderError."""
    rows = data["rows"]

    def block(m):
        kind, ids = m.group(1), m.group(2)
        if kind == "machine":
            if ids:
                raise RenderError("<!-- bench:machine --> takes no row ids")
            body = machine(data)
        elif kind in BLOCKS:
            body = BLOCKS[kind](select(rows, ids))
        else:
            raise RenderError(f"unknown block <!-- bench:{kind} -->")
        head = f"<!-- bench:{kind}{' ' + ids if ids else ''} -->"
        return f"{head}\n{body}\n<!-- /bench -->"

    out, n = MARKER.subn(block, doc)
    if n == 0:
        raise RenderError("no <!-- bench:... --> block in the doc")
    return out


def read(json_path, doc_path):
    try:
        data = json.loads(Path(json_path).read_text())
        doc = Path(doc_path).read_text()
    except (OSError, ValueError) as e:
        raise RenderError(f"cannot read the inputs: {e}") from e
    if data.get("schema") != 1:
        raise RenderError(f"{json_path}: schema {data.get('schema')!r}, this renderer reads 1")
    return doc, data


def main(argv):
    import argparse
    root = Path(__file__).resolve().parents[2]
    ap = argparse.ArgumentParser(
        prog="bench/render",
        description="Render the tables of docs/BENCHMARKS.md from bench/run's JSON.")
    ap.add_argument("--json", default=str(root / "docs/benchmarks.json"))
    ap.add_argument("--doc", default=str(root / "docs/BENCHMARKS.md"))
    ap.add_argument("--check", action="store_true",
                    help="change nothing; exit 1 with a diff if the doc's tables differ from "
                         "what the JSON renders")
    a = ap.parse_args(argv)
    try:
        doc, data = read(a.json, a.doc)
        new = render(doc, data)
    except RenderError as e:
        print(f"bench/render: error: {e}", file=sys.stderr)
        return 2
    if not a.check:
        if new != doc:
            Path(a.doc).write_text(new)
            print(f"bench/render: {a.doc} rendered from {a.json}", file=sys.stderr)
        return 0
    # The check renders into a temporary copy and compares it with the doc as committed.
    with tempfile.NamedTemporaryFile("w", suffix=".md", prefix="BENCHMARKS.rendered.") as tmp:
        tmp.write(new)
        tmp.flush()
        rendered = Path(tmp.name).read_text()
    if rendered == doc:
        print(f"bench/render --check: {a.doc} agrees with {a.json}", file=sys.stderr)
        return 0
    sys.stdout.writelines(difflib.unified_diff(
        doc.splitlines(keepends=True), rendered.splitlines(keepends=True),
        fromfile=f"{a.doc} (committed)", tofile=f"{a.doc} (rendered from {a.json})"))
    print(f"bench/render --check: the tables of {a.doc} differ from {a.json}; run bench/render "
          f"(or bench/run --json {a.json} on an idle machine, then bench/render)", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
