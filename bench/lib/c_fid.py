"""Comparison 6: Fréchet distance at d = 2048 against pytorch-fid's
`calculate_frechet_distance` on the same statistics, reusing the eval crate's bench
(crates/eval/benches/fid_vs_pytorch_fid.rs) once per repetition.
"""
import os
import re

from common import BenchError, Row, Sample, paired_ratio, run

OURS_RE = re.compile(r"\| ddmd-eval[^|]*\| ([-\d.eE+]+) \| ([\d.]+) \|")
PEER_RE = re.compile(r"\| pytorch-fid[^|]*\| ([-\d.eE+]+) \| ([\d.]+) \|")


def fid_row(size):
    exe = os.environ.get("BENCH_FID_EXE")
    if not exe:
        raise BenchError("BENCH_FID_EXE is not set (bench/run sets it after building)")
    d, n = size["fid_d"], size["fid_n"]
    ours, peer, rel = [], [], []
    for _ in range(size["reps"]):
        _, out, _ = run([exe], env={"FID_BENCH_D": str(d), "FID_BENCH_N": str(n)})
        mo, mp = OURS_RE.search(out), PEER_RE.search(out)
        if not (mo and mp):
            raise BenchError(f"unexpected FID bench output:\n{out}")
        vo, vp = float(mo.group(1)), float(mp.group(1))
        ours.append(float(mo.group(2)))
        peer.append(float(mp.group(2)))
        rel.append(abs(vo - vp) / abs(vp))
    o, p = Sample(ours, "s"), Sample(peer, "s")
    ratio = paired_ratio(o, p)
    same = max(rel) <= 1e-6
    return [Row("6", f"6. Fréchet distance d={d} vs pytorch-fid", o, p, ratio, "paired",
                "≤ 0.3×, same value to 1e-6", ratio <= 0.3 and same,
                [f"N = {n} features per side; largest relative difference of the value "
                 f"{max(rel):.1e} (as printed, 6 decimals); time of the distance only (statistics "
                 f"excluded on both sides); ratio = median of per-repetition ratios"])]
