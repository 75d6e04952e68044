"""Comparisons 1 and 2: the Decoupled-DMD distill iteration against PyTorch eager Python on
the same network and batch, and decoupled (hybrid) against coupled in the project itself
(step time from one process; peak RSS from separate processes).

Ours: `bench_steps` (crates/science/examples), which times `Distiller::step` with default
distill parameters (4-step student, 5 fake updates, batched teacher calls). Peer:
bench/peers/dmd_step.py, the same UNet and iteration in PyTorch.
"""
import json
import re
import tempfile
from pathlib import Path

from common import (EXAMPLES, PY, ROOT, BenchError, Row, Sample, paired_ratio, run,
                    run_peak_rss)

STEP_RE = re.compile(r"distill step (\w+) \(batch (\d+).*median ([\d.]+) ms")
PARAMS_RE = re.compile(r"threads (\d+), params (\d+)")


def _ours(iters, batch):
    env = {"DBATCH": str(batch), "BENCH_PARAMS": json.dumps({"widths": [32, 64]})}
    _, out, _ = run([str(EXAMPLES / "bench_steps"), str(iters)], env=env)
    steps = {m.group(1): float(m.group(3)) for m in STEP_RE.finditer(out)}
    pm = PARAMS_RE.search(out)
    if "hybrid" not in steps or "coupled" not in steps or pm is None:
        raise BenchError(f"unexpected bench_steps output:\n{out}")
    return steps, int(pm.group(1)), int(pm.group(2))


def _peer(iters, batch):
    _, out, _ = run([PY, str(ROOT / "bench/peers/dmd_step.py"), "--schedule", "hybrid",
                     "--batch", str(batch), "--iters", str(iters)])
    return json.loads(out.strip().splitlines()[-1])


def step_rows(size):
    iters, batch, reps = size["step_iters"], size["step_batch"], size["step_reps"]
    hybrid, coupled, python = [], [], []
    threads = params = py_params = py_threads = None
    for _ in range(reps):  # interleaved, so load drifts hit both sides alike
        steps, threads, params = _ours(iters, batch)
        hybrid.append(steps["hybrid"])
        coupled.append(steps["coupled"])
        peer = _peer(iters, batch)
        python.append(peer["median_ms"])
        py_params, py_threads = peer["params"], peer["threads"]
    if params != py_params:
        raise BenchError(f"parameter counts differ: ours {params}, PyTorch mirror {py_params}")
    ours, peer = Sample(hybrid, "ms"), Sample(python, "ms")
    ratio = paired_ratio(ours, peer)
    note = (f"distill iteration (generator update + 5 fake updates), batch {batch}, 16×16, "
            f"UNet 32/64 with {params:,} parameters; {iters} timed iterations per repetition "
            f"(median); ratio = median over repetitions of ours/peer run back to back; "
            f"threads ours {threads} / PyTorch {py_threads}")
    r1 = Row("1", "1. decoupled-DMD step vs PyTorch eager (CPU)", ours, peer, ratio, "paired",
             "≤ 0.9×",
             ratio <= 0.9, [note])
    c = Sample(coupled, "ms")
    ratio2 = paired_ratio(ours, c)
    r2 = Row("2a", "2a. decoupled vs coupled step time", ours, c, ratio2, "paired", "≤ 1.15×",
             ratio2 <= 1.15,
             ["same process, same network and batch as row 1"])
    return [r1, r2]


def memory_row(size):
    """Peak RSS of a whole distill run (hybrid vs coupled), each in its own process."""
    reps, iters, batch = size["reps"], size["mem_iters"], size["step_batch"]
    stage = str(EXAMPLES / "run_stage")
    with tempfile.TemporaryDirectory(prefix="ddmd-bench-mem-") as tmp:
        tmp = Path(tmp)
        teacher = tmp / "teacher"
        run([stage, "teacher", str(teacher), json.dumps(
            {"iterations": 1, "batch": 8, "checkpoint_every": 0, "sample_steps": 1})])
        rss = {"hybrid": [], "coupled": []}
        for i in range(reps):
            for schedule in ("hybrid", "coupled"):
                params = {"iterations": iters, "batch": batch, "schedule": schedule,
                          "checkpoint_every": 0, "monitor_every": 1}
                work = tmp / f"{schedule}-{i}"
                rss[schedule].append(run_peak_rss(
                    [stage, "distill", str(work), str(teacher), json.dumps(params)]))
    ours, peer = Sample(rss["hybrid"], "MiB"), Sample(rss["coupled"], "MiB")
    ratio = paired_ratio(ours, peer)
    return [Row("2b", "2b. decoupled vs coupled peak memory", ours, peer, ratio, "paired",
                "≤ 1.05×",
                ratio <= 1.05,
               [f"peak RSS (getrusage of the child) of `run_stage distill`, {iters} iterations, "
                f"batch {batch}, one process per measurement"])]
