"""Comparisons 1 and 2: the Decoupled-DMD distill iteration against PyTorch eager Python on
the same network and batch, and decoupled (hybrid) against coupled in the project itself
(step time from one process; peak RSS from separate processes).

Ours: `bench_steps` (crates/science/examples), which times `Distiller::step` with default
distill parameters (4-step student, 5 fake updates, batched teacher calls). Peer:
bench/peers/dmd_step.py, the same UNet (bench/peers/unet_mirror.py; parity tested by
crates/science/tests/unet_parity.rs) and iteration in PyTorch.

Same work on both sides: the student step k of every student sample (it sets how many no-grad
student forwards the backward simulation runs, 0-3 of them, so it moves an iteration's time
by up to ~14 %) comes from one seeded list given to both (BENCH_KS / --ks), and each side
reports the ks it used, which must equal the list. Same data: the peer loads the teacher
weights, the spec and the prompts that our side wrote (BENCH_SHARE / --share). Each side's
figure is the mean over the same sequence of timed iterations.
"""
import json
import random
import re
import tempfile
from pathlib import Path

from common import (EXAMPLES, PY, ROOT, BenchError, Row, Sample, paired_ratio, run,
                    run_peak_rss)

STEP_RE = re.compile(r"distill step (\w+) \(batch (\d+).*median ([\d.]+) ms, mean ([\d.]+) ms")
KS_RE = re.compile(r"distill ks (\w+): ([\d,]*)")
PARAMS_RE = re.compile(r"threads (\d+), params (\d+)")
# Distill defaults (crates/science/src/params.rs) that fix how many ks an iteration takes.
STUDENT_STEPS, FAKE_UPDATES, WARMUP = 4, 5, 2
KS_SEED = 17


def shared_ks(iters):
    """One k per student sample (the generator's, then each fake update's), warm-up included."""
    rng = random.Random(KS_SEED)
    return [rng.randrange(STUDENT_STEPS) for _ in range((iters + WARMUP) * (1 + FAKE_UPDATES))]


def _ours(iters, batch, ks, share):
    env = {"DBATCH": str(batch), "BENCH_PARAMS": json.dumps({"widths": [32, 64]}),
           "BENCH_KS": ",".join(map(str, ks)), "BENCH_SHARE": str(share)}
    _, out, _ = run([str(EXAMPLES / "bench_steps"), str(iters)], env=env)
    steps = {m.group(1): float(m.group(4)) for m in STEP_RE.finditer(out)}
    used = {m.group(1): [int(k) for k in m.group(2).split(",") if k] for m in KS_RE.finditer(out)}
    pm = PARAMS_RE.search(out)
    if "hybrid" not in steps or "coupled" not in steps or pm is None:
        raise BenchError(f"unexpected bench_steps output:\n{out}")
    for schedule in ("hybrid", "coupled"):
        if used.get(schedule) != ks:
            raise BenchError(f"bench_steps {schedule} used ks {used.get(schedule)}, not the "
                             f"given {ks}")
    return steps, int(pm.group(1)), int(pm.group(2))


def _peer(iters, batch, ks, share):
    _, out, _ = run([PY, str(ROOT / "bench/peers/dmd_step.py"), "--schedule", "hybrid",
                     "--batch", str(batch), "--iters", str(iters), "--share", str(share),
                     "--ks", ",".join(map(str, ks))])
    peer = json.loads(out.strip().splitlines()[-1])
    if peer["ks"] != ks:
        raise BenchError(f"the PyTorch mirror used ks {peer['ks']}, not the given {ks}")
    return peer


def step_rows(size):
    iters, batch, reps = size["step_iters"], size["step_batch"], size["step_reps"]
    ks = shared_ks(iters)
    hybrid, coupled, python = [], [], []
    threads = params = py_params = py_threads = None
    for i in range(reps):  # interleaved, so load drifts hit both sides alike
        with tempfile.TemporaryDirectory(prefix="ddmd-bench-step-") as share:
            steps, threads, params = _ours(iters, batch, ks, share)
            hybrid.append(steps["hybrid"])
            coupled.append(steps["coupled"])
            peer = _peer(iters, batch, ks, share)
        python.append(peer["mean_ms"])
        py_params, py_threads = peer["params"], peer["threads"]
    if params != py_params:
        raise BenchError(f"parameter counts differ: ours {params}, PyTorch mirror {py_params}")
    ours, peer = Sample(hybrid, "ms"), Sample(python, "ms")
    ratio = paired_ratio(ours, peer)
    counts = {k: ks[WARMUP * (1 + FAKE_UPDATES):].count(k) for k in range(STUDENT_STEPS)}
    note = (f"distill iteration (generator update + 5 fake updates, each on a fresh student "
            f"sample), batch {batch}, 16×16, UNet 32/64 with {params:,} parameters; both sides "
            f"run the same {iters} timed iterations (after {WARMUP} warm-up) per repetition "
            f"from the same teacher weights and prompts (the mirror loads ours), with the same "
            f"seeded sequence of student steps k (timed: "
            + ", ".join(f"k={k} ×{c}" for k, c in counts.items())
            + "), checked on both sides; figure = mean over the timed iterations; ratio = "
            f"median over repetitions of ours/peer run back to back; threads ours {threads} / "
            f"PyTorch {py_threads}")
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
