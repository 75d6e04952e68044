"""Benchmark driver behind `bench/run`: runs the comparisons of issue 8 at one size and prints
one table (comparison, ours, peer, ratio, goal, met?) with medians and spreads, then the
notes of each row. `--json FILE` also writes every repetition with the machine, its load and
the commit: the only source of docs/BENCHMARKS.md's tables (bench/render, issue 17).

Sizes: `tiny` only checks that every comparison runs (CI; timings mean nothing there);
`small` is the default and finishes in minutes on a 2-core CPU; `large` repeats more.
"""
import argparse
import json
import sys
import time
import traceback

import machine
import render
from common import load_average
import c_cache
import c_fid
import c_inception
import c_pack
import c_serve
import c_step
import c_track

SIZES = {
    "tiny": dict(reps=1, step_reps=1, step_iters=2, step_batch=8, mem_iters=2, log_points=20_000,
                 mlflow_points=5_000, runs=30, fid_d=256, fid_n=600, pack_jobs=24,
                 pack_range=(0.1, 0.3), pack_reps=1, incep_n=4, incep_batch=4,
                 cache_bytes=64 << 10),
    "small": dict(reps=3, step_reps=5, step_iters=12, step_batch=32, mem_iters=4, log_points=1_000_000,
                  mlflow_points=100_000, runs=1000, fid_d=2048, fid_n=5000, pack_jobs=200,
                  pack_range=(0.2, 1.0), pack_reps=1, incep_n=200, incep_batch=50,
                  cache_bytes=1 << 20),
    "large": dict(reps=5, step_reps=7, step_iters=20, step_batch=32, mem_iters=10, log_points=1_000_000,
                  mlflow_points=1_000_000, runs=1000, fid_d=2048, fid_n=10000, pack_jobs=200,
                  pack_range=(0.2, 1.0), pack_reps=3, incep_n=500, incep_batch=50,
                  cache_bytes=1 << 20),
}

COMPARISONS = {
    "step": c_step.step_rows,
    "memory": c_step.memory_row,
    "log": c_track.log_rows,
    "query": c_track.query_row,
    "cache": c_cache.cache_row,
    "fid": c_fid.fid_row,
    "pack": c_pack.pack_row,
    "inception": c_inception.inception_row,
    "serve": c_serve.serve_row,
}


def main():
    ap = argparse.ArgumentParser(prog="bench/run")
    ap.add_argument("--size", choices=SIZES, default="small")
    ap.add_argument("--only", action="append", choices=COMPARISONS,
                    help="run only this comparison (repeatable)")
    ap.add_argument("--reps", type=int, help="repetitions (default: per size)")
    ap.add_argument("--json", help="also write every figure, the machine and its load to this "
                                   "file (docs/benchmarks.json is the doc's; bench/render)")
    ap.add_argument("--profile", choices=["release", "dev"], default="release",
                    help="binaries measured: release (figures) or dev (the test command's "
                         "build; --size tiny only, its timings mean nothing)")
    a = ap.parse_args()
    if a.profile == "dev" and a.size != "tiny":
        ap.error("--profile dev is for --size tiny: figures are measured with release binaries")
    started = machine.now()
    size = dict(SIZES[a.size])
    if a.reps:
        size["reps"] = size["step_reps"] = a.reps
    names = a.only or list(COMPARISONS)
    t0 = time.time()
    load0 = load_average()
    rows, failed, took = [], [], []
    for name in names:
        t = time.time()
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        try:
            rows.extend(COMPARISONS[name](size))
        except Exception as e:  # noqa: BLE001 - one broken comparison must not hide the others
            failed.append((name, str(e)))
            traceback.print_exc(file=sys.stderr)
        took.append({"name": name, "seconds": round(time.time() - t, 1),
                     "load_end": round(load_average()[0], 2)})
        print(f"bench: {name} took {took[-1]['seconds']} s (load {took[-1]['load_end']:.2f})",
              file=sys.stderr, flush=True)
    load1 = load_average()
    data = {
        "schema": 1,
        "command": "bench/run " + " ".join(sys.argv[1:]),
        "size": a.size,
        "profile": a.profile,
        "params": size,
        "date": started,
        **machine.commit(),
        "seconds": round(time.time() - t0, 1),
        "machine": machine.describe(load0, load1),
        "comparisons": took,
        "rows": [r.to_json() for r in rows],
        "failed": failed,
    }
    m = data["machine"]
    print(f"\nbench/run --size {a.size}: {m['host']}, {m['cpu_model']}, {m['cores']} cores, "
          f"load average {load0[0]:.2f} at start / {load1[0]:.2f} at end, "
          f"{data['seconds']:.0f} s in all\n")
    print(render.table(data["rows"]))
    print()
    print(render.notes(data["rows"]))
    if a.size == "tiny":
        print("\n(tiny size: checks that every comparison runs; its timings mean nothing)")
    for name, err in failed:
        print(f"\nFAILED {name}: {err[:2000]}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(data, f, indent=1, ensure_ascii=False)
            f.write("\n")
        print(f"bench: wrote {a.json}; `bench/render` puts its tables into docs/BENCHMARKS.md "
              f"(when the file is docs/benchmarks.json)", file=sys.stderr)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
