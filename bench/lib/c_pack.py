"""Comparison 7: scheduler packing. J command jobs `sleep d` (d uniform in [lo, hi], fixed
seed) each asking for one GPU, on `--fake-gpus 8`. Packing efficiency = ideal / makespan with
ideal = max(sum(d) / 8, max(d)); makespan from the first start to the last end recorded in
the run database. Dispatch overhead per job = mean(recorded duration − d).
"""
import random
import tempfile
from pathlib import Path

from common import BenchError, Row, Sample, ddmd, ddmd_query

GPUS = 8


def _spec(durations):
    items = "\n".join(f"        - {{ name: j{i}, d: {d:.3f} }}" for i, d in enumerate(durations))
    return f"""name: bench-pack
stages:
  work:
    kind: command
    resources: {{ gpus: 1 }}
    matrix:
      job:
{items}
    params:
      run: sleep {{{{ d }}}}
"""


def pack_row(size):
    jobs, (lo, hi) = size["pack_jobs"], size["pack_range"]
    eff, overhead, walls = [], [], []
    for rep in range(size["pack_reps"]):
        rng = random.Random(rep)
        ds = [rng.uniform(lo, hi) for _ in range(jobs)]
        ideal = max(sum(ds) / GPUS, max(ds))
        with tempfile.TemporaryDirectory(prefix="ddmd-bench-pack-") as tmp:
            tmp = Path(tmp)
            spec, home = tmp / "pack.yaml", tmp / "home"
            spec.write_text(_spec(ds))
            wall, _, _ = ddmd(["run", str(spec), "--quiet", "--fake-gpus", str(GPUS),
                               "--jobs", str(GPUS)], home, cwd=tmp)
            rows = ddmd_query(home, "SELECT job_name, params, started_at, ended_at, status "
                                    "FROM runs WHERE stage = 'work'")
        if len(rows) != jobs or any(r["status"] != "succeeded" for r in rows):
            raise BenchError(f"{len(rows)} rows, statuses {set(r['status'] for r in rows)}")
        start = min(r["started_at"] for r in rows)
        end = max(r["ended_at"] for r in rows)
        eff.append(ideal / (end - start))
        walls.append(ideal / wall)
        overhead.append(1e3 * (sum(r["ended_at"] - r["started_at"] for r in rows) - sum(ds)) / jobs)
    e = Sample(eff, "")
    return [Row("7", f"7. packing {jobs} jobs on {GPUS} fake GPUs (ideal/makespan)", e,
                Sample([1.0], "(ideal)"), e.median, "value", "≥ 0.95", e.median >= 0.95,
                [f"sleeps of {lo}–{hi} s; per job, recorded duration − sleep = "
                 f"{Sample(overhead, 'ms').show()} (process start + events); ideal / wall of "
                 f"the whole `ddmd-pipe run` = {Sample(walls, '').show()}"])]
