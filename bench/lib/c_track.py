"""Comparisons 3 and 4 against MLflow (SQLite backend), and the issue-2 ingest line.

3 / issue 2: N metric points from a running `command` job (bench/peers/emit_events.py, the
   project's Python helper) through a real `ddmd-pipe run`, timed from the job's first write
   to the run's exit (every row ingested: checked by count). The writer's own time inside the
   run is compared with the same writer on its own, to show whether ingestion ever slowed it.
   Peer: MLflow `log_batch`, 1,000 points per call (bench/peers/mlflow_peer.py); ratios per point.
   MLflow commits every call; our store is WAL with synchronous=NORMAL (no fsync per commit),
   so 3c repeats 3b's measurement with DDMD_SQLITE_SYNCHRONOUS=full (an fsync per commit), and
   3d bulk-loads the rows 3b ingested into the same `metrics` schema with the `sqlite3` CLI's
   `.import` in one transaction: the storage limit our ingest is measured against.
4: final metrics of R runs (10 metrics × 10 steps each) through `ddmd-pipe query` on
   run_summary (process start included) vs `mlflow.search_runs` (in-process).
"""
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import render
from common import (DDMD, PY, ROOT, BenchError, Row, Sample, ddmd, ddmd_query, paired_ratio,
                    paired_ratios, run)

EMIT = ROOT / "bench/peers/emit_events.py"
PEER = ROOT / "bench/peers/mlflow_peer.py"


def _log_pipeline(n, times):
    return f"""name: bench-log
stages:
  emit:
    kind: command
    params:
      run: python3 {EMIT} {n} {times}
"""


def _cat_pipeline(lines, stamps):
    """The same job with its events serialised beforehand: ingestion, not the writer, limits."""
    return f"""name: bench-log
stages:
  emit:
    kind: command
    params:
      run: date +%s.%N > {stamps}.first && cat {lines} >> $DDMD_EVENTS && date +%s.%N > {stamps}.last
"""


def _event_lines(path, n):
    keys = [f"train/m{k}" for k in range(10)]
    t = time.time()
    with open(path, "w") as f:
        for i in range(n):
            f.write(json.dumps({"seq": i, "t": t, "type": "metric", "key": keys[i % 10],
                                "step": i // 10, "value": i * 1e-3}) + "\n")


def _ours_log(tmp, n, i, lines=None, synchronous=None):
    """One `ddmd-pipe run` of the logging job; returns (end-to-end rate, writer's rate, home).
    `synchronous` sets DDMD_SQLITE_SYNCHRONOUS for the orchestrator (None: the default)."""
    home, times = tmp / f"home{i}", tmp / f"times{i}.json"
    spec = tmp / f"log{i}.yaml"
    spec.write_text(_log_pipeline(n, times) if lines is None else _cat_pipeline(lines, times))
    env = {"DDMD_SQLITE_SYNCHRONOUS": synchronous} if synchronous else None
    ddmd(["run", str(spec), "--quiet"], home, cwd=ROOT, env=env)
    end = time.time()  # the run exits only after its events are ingested
    if lines is None:
        t = json.loads(times.read_text())
    else:
        t = {"first": float(Path(f"{times}.first").read_text()),
             "last": float(Path(f"{times}.last").read_text())}
    rows = ddmd_query(home, "SELECT count(*) AS n FROM metrics")
    got = rows[0]["n"] if isinstance(rows, list) else None
    if got != n:
        raise BenchError(f"ddmd-pipe ingested {got} of {n} points")
    return n / (end - t["first"]), n / (t["last"] - t["first"]), home


def _sqlite3():
    exe = shutil.which("sqlite3")
    if exe is None:
        raise BenchError("no `sqlite3` on PATH (bench/run installs Debian's sqlite3 package)")
    return exe


def _bound_inputs(tmp, home, n):
    """The rows a 3b run ingested, as CSV, and the `metrics` schema (table and index) as our
    store created it in that run's database: what 3d bulk-loads, neither typed here."""
    sqlite3, db = _sqlite3(), str(home / "runs.sqlite")
    _, schema, _ = run([sqlite3, "-readonly", db, ".schema metrics"])
    if "CREATE TABLE metrics" not in schema or "CREATE INDEX metrics_run_key_step" not in schema:
        raise BenchError(f"unexpected schema of `metrics` in {db}:\n{schema}")
    csv = tmp / "metrics.csv"
    _, rows, _ = run([sqlite3, "-readonly", "-csv", db,
                      "SELECT * FROM metrics ORDER BY run_id, seq"])
    csv.write_text(rows)
    check = "SELECT count(*), sum(seq), sum(step), count(DISTINCT key), count(raw) FROM metrics"
    _, ours, _ = run([sqlite3, "-readonly", "-csv", db, check])
    return schema, csv, check, ours.strip()


def _bound(tmp, i, schema, csv, check, want, n):
    """Rows per second of `sqlite3`'s `.import` of the CSV into an empty database holding
    only the `metrics` schema, in one transaction, with our writer's journal mode and
    synchronous setting; the database is created before the timed process starts."""
    sqlite3, db = _sqlite3(), tmp / f"bound{i}.sqlite"
    run([sqlite3, str(db)], input=f"PRAGMA journal_mode=WAL;\n{schema}")
    script = ("PRAGMA synchronous=NORMAL;\n.mode csv\nBEGIN;\n"
              f".import '{csv}' metrics\nCOMMIT;\n")
    wall, _, err = run([sqlite3, "-bail", str(db)], input=script)
    if err.strip():
        raise BenchError(f"sqlite3 .import wrote to stderr:\n{err[-2000:]}")
    _, got, _ = run([sqlite3, "-readonly", "-csv", str(db), check])
    # The CLI imports the empty field of a NULL `raw` as '' (count(raw) counts it), so that
    # column is left out of the comparison; both are a zero-length field of the record.
    if got.strip().rsplit(",", 1)[0] != want.rsplit(",", 1)[0]:
        raise BenchError(f"bulk load differs from ours: {got.strip()} vs {want} ({check})")
    db.unlink()
    return n / wall


def _journal_mode(db):
    _, out, _ = run([_sqlite3(), "-readonly", str(db), "PRAGMA journal_mode"])
    return out.strip()


def _writer_alone(tmp, n):
    times = tmp / "alone.json"
    run(["python3", str(EMIT), str(n), str(times)],
        env={"DDMD_EVENTS": str(tmp / "alone.jsonl"), "PYTHONPATH": str(ROOT / "python")})
    t = json.loads(times.read_text())
    return n / (t["last"] - t["first"])


def log_rows(size):
    n, n_peer, reps = size["log_points"], size["mlflow_points"], size["reps"]
    ours, ingest, full, bound, writer_in, writer_alone, peer = [], [], [], [], [], [], []
    with tempfile.TemporaryDirectory(prefix="ddmd-bench-log-") as tmp:
        tmp = Path(tmp)
        lines = tmp / "events.jsonl"
        _event_lines(lines, n)
        for i in range(reps):
            e2e, w, _ = _ours_log(tmp, n, i)
            ours.append(e2e)
            rate, _, home = _ours_log(tmp, n, 100 + i, lines)
            ingest.append(rate)
            if i == 0:
                schema, csv, check, want = _bound_inputs(tmp, home, n)
            full.append(_ours_log(tmp, n, 200 + i, lines, synchronous="full")[0])
            bound.append(_bound(tmp, i, schema, csv, check, want, n))
            writer_in.append(w)
            writer_alone.append(_writer_alone(tmp, n))
            mlflow_db = tmp / f"mlflow{i}.db"
            _, out, _ = run([PY, str(PEER), "log", str(mlflow_db), str(n_peer)])
            peer.append(json.loads(out.strip().splitlines()[-1])["points_per_s"])
        mlflow_journal = _journal_mode(mlflow_db)
        _, sqlite_version, _ = run([_sqlite3(), "--version"])
    o, p = Sample(ours, "pts/s"), Sample(peer, "pts/s")
    ratio = paired_ratio(o, p)
    w_in, w_alone = Sample(writer_in, "pts/s"), Sample(writer_alone, "pts/s")
    semantics = (f"MLflow commits every log_batch call (its SQLite file in journal mode "
                 f"`{mlflow_journal}`, SQLite's default synchronous=FULL: an fsync per commit); "
                 f"ours is WAL with synchronous=NORMAL (no fsync per commit; durable against a "
                 f"crash of the process, not of the machine): row 3c measures ours at FULL")
    r3 = Row("3a", "3a. log metric points from a running job (Python helper) vs MLflow log_batch",
             o, p, ratio, "paired", "≥ 100×", ratio >= 100,
             [f"ours: {n:,} points through `ddmd-pipe run`, first write → all rows ingested; "
              f"MLflow: {n_peer:,} points (SQLite, log_batch of 1,000); ratio per point.",
              f"Not the same durability: {semantics}"])
    ing = Sample(ingest, "pts/s")
    ratio_b = paired_ratio(ing, p)
    r3b = Row("3b", "3b. the same, events serialised beforehand (ingest-bound) vs MLflow", ing, p,
              ratio_b, "paired", "≥ 100×", ratio_b >= 100,
              ["the job appends pre-written JSON lines (`cat`) to $DDMD_EVENTS: first write "
               "→ all rows ingested, so the orchestrator's tail + parse + SQLite ingest limit.",
               f"Not the same durability: {semantics}"])
    f = Sample(full, "pts/s")
    ratio_c = paired_ratio(f, p)
    full_vs_normal = paired_ratios(f, ing)
    r3c = Row("3c", "3c. row 3b with DDMD_SQLITE_SYNCHRONOUS=full (an fsync per commit, as "
              "MLflow) vs MLflow", f, p, ratio_c, "paired", "≥ 100×", ratio_c >= 100,
              [f"row 3b's measurement, the orchestrator run with DDMD_SQLITE_SYNCHRONOUS=full "
               f"in the same repetitions (3b NORMAL, then 3c FULL, then MLflow, back to back); "
               f"what differs from 3b is only the fsync of the WAL at every commit. FULL / "
               f"NORMAL (ours 3c / ours 3b, paired): "
               f"{render.num(statistics.median(full_vs_normal))} (per repetition: "
               f"{', '.join(render.num(x) for x in full_vs_normal)}); we commit one transaction "
               f"per ingest batch, MLflow one per 1,000 points"])
    bnd = Sample(bound, "rows/s")
    ours_rows = Sample(ingest, "rows/s")
    ratio_d = paired_ratio(ours_rows, bnd)
    r3d = Row("3d", "3d. row 3b's ingest vs the storage limit: the same rows bulk-loaded by "
              "sqlite3 `.import`", ours_rows, bnd, ratio_d, "paired", "none (a bound, not a peer)",
              None,
              [f"peer: the {n:,} rows row 3b's run stored, exported as CSV, loaded by the "
               f"sqlite3 CLI ({sqlite_version.split()[0]}) with `.import` in one transaction "
               f"into an empty database holding the `metrics` table and index as our store "
               f"created them (`.schema metrics` of that run's database), WAL and "
               f"synchronous=NORMAL like ours; wall time of the `sqlite3` process. Checked: "
               f"same count, sum of seq and step, distinct keys. Each side does work the other "
               f"does not: ours tails and parses JSON, checks foreign keys (the CLI does not), "
               f"keeps `metrics_final` and commits per batch; the CLI converts CSV text row by "
               f"row. A ratio near 1: ours is at the limit SQLite's own loader reaches"])
    slow = w_in.median / w_alone.median
    r_ing = Row("ingest", "issue 2. event ingest from one job (points/s)", ing,
                Sample([200_000], "pts/s"), ing.median / 200_000, "value", "≥ 200,000/s",
                ing.median >= 200_000,
                [f"row 3b's rate. Writer never blocking: the Python helper wrote "
                 f"{w_in.show()} inside the run vs {w_alone.show()} alone (×{slow:.2f}); it "
                 f"appends to a file and never waits for the database"])
    return [r3, r3b, r3c, r3d, r_ing]


def _runs_pipeline(r):
    points = ", ".join(str(i) for i in range(r))
    return f"""name: bench-runs
stages:
  train:
    kind: command
    matrix:
      i: [{points}]
    params:
      run: sh {ROOT / "bench/peers/emit_metrics.sh"} {{{{ i }}}}
"""


def query_row(size):
    r, q = size["runs"], max(size["reps"], 5)
    sql = ("SELECT run_id, job_name, params, metrics FROM run_summary "
           "WHERE pipeline = 'bench-runs' AND stage = 'train'")
    with tempfile.TemporaryDirectory(prefix="ddmd-bench-runs-") as tmp:
        tmp = Path(tmp)
        spec = tmp / "runs.yaml"
        spec.write_text(_runs_pipeline(r))
        home = tmp / "home"
        pop_s, _, _ = ddmd(["run", str(spec), "--quiet", "--jobs", "4"], home, cwd=tmp)
        ours = []
        for _ in range(q):
            wall, out, _ = ddmd(["query", sql, "--format", "json"], home)
            rows = json.loads(out)
            metrics = rows[0]["metrics"] if rows else {}
            if isinstance(metrics, str):
                metrics = json.loads(metrics)
            if len(rows) != r or "train/m9" not in metrics:
                raise BenchError(f"query returned {len(rows)} rows: {str(rows[:1])[:300]}")
            ours.append(wall)
        _, out, _ = run([PY, str(PEER), "runs", str(tmp / "mlflow.db"), str(r), str(q)])
        peer = json.loads(out.strip().splitlines()[-1])
    o, p = Sample(ours, "s"), Sample(peer["query_s"], "s")
    ratio = o.median / p.median
    return [Row("4", f"4. final metrics of {r:,} runs: query vs mlflow.search_runs", o, p, ratio,
                "medians", "≤ 0.05× (≥ 20× faster)", ratio <= 0.05,
                [f"run_summary (params + final metrics JSON) via `ddmd-pipe query`, process "
                 f"start included; search_runs in-process. Populating took {pop_s:.1f} s "
                 f"through `ddmd-pipe run` ({r} command jobs) vs {peer['populate_s']:.1f} s "
                 f"in MLflow"])]
