"""Helpers shared by the scripts that compute docs/RESULTS.md's statistics from a home's
database (scripts/long-study-stats, scripts/ablation-stats): the query through `ddmd-pipe
query` (the same read-only SQL a user runs), mean ± 95 % t-interval, and the number formats."""
import json
import subprocess

import numpy as np
from scipy import stats


def query(args, sql):
    """Rows of `sql` against `args.home`'s database, through the binary `args.bin`."""
    out = subprocess.run(
        [args.bin, "query", "--home", args.home, "--format", "json", sql],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


def ci(xs):
    """Mean, 95 % t half-width (NaN for one value) and n of the finite values of `xs`."""
    xs = np.asarray([x for x in xs if x is not None and np.isfinite(x)], dtype=float)
    if len(xs) == 0:
        return float("nan"), float("nan"), 0
    if len(xs) == 1:
        return xs[0], float("nan"), 1
    h = stats.t.ppf(0.975, len(xs) - 1) * xs.std(ddof=1) / np.sqrt(len(xs))
    return xs.mean(), h, len(xs)


def fmt(m, h, n, digits, usual_n):
    """`m ± h`, with n named when it is not the table's usual one."""
    if n == 0:
        return "–"
    if n == 1 or not np.isfinite(h):
        return f"{m:.{digits}f}" + ("" if usual_n == 1 else " (n=1)")
    return f"{m:.{digits}f} ± {h:.{digits}f}" + ("" if n == usual_n else f" (n={n})")


def digits_for(values):
    """Decimals that show the smallest of `values` with about three significant figures."""
    finite = [abs(v) for v in values if np.isfinite(v) and v != 0]
    if not finite:
        return 2
    small = min(finite)
    return 1 if small >= 10 else 2 if small >= 0.1 else 3 if small >= 0.01 else 4


def fmt_p(p):
    if not np.isfinite(p):
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def welch(a, b):
    """Welch's t-test p-value of two samples, NaN when either has fewer than two values."""
    a = [x for x in a if x is not None]
    b = [x for x in b if x is not None]
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    return stats.ttest_ind(a, b, equal_var=False).pvalue


def label(v):
    """A matrix value as the point stores it: a mapping by its name, else itself."""
    return v["name"] if isinstance(v, dict) else v
