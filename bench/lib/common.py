"""Shared helpers of the benchmark driver: paths, running processes with timing and peak RSS,
statistics of repeated measurements, and the row every comparison returns.

No comparison logic lives here.
"""
import json
import os
import resource
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PY = str(ROOT / ".venv" / "bin" / "python")
DDMD = str(ROOT / "target" / "release" / "ddmd-pipe")
EXAMPLES = ROOT / "target" / "release" / "examples"
# The same CLI built without the `science` feature (no libtorch), which bench/run builds into
# its own target folder: what a command-only user (or `query`) pays without loading libtorch.


class BenchError(RuntimeError):
    """A comparison could not be measured (a tool failed, an output was not what we expect)."""


def run(cmd, cwd=None, env=None, check=True, timeout=1800):
    """Runs `cmd`; returns (wall seconds, stdout, stderr). Raises BenchError on failure."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, text=True,
                       timeout=timeout)
    wall = time.perf_counter() - t
    if check and p.returncode != 0:
        raise BenchError(f"{' '.join(map(str, cmd))} exited {p.returncode}:\n"
                         f"{p.stdout[-2000:]}\n{p.stderr[-3000:]}")
    return wall, p.stdout, p.stderr


def run_peak_rss(cmd, cwd=None, env=None):
    """Runs `cmd` alone and returns its peak RSS in MiB (getrusage of the waited child).

    RUSAGE_CHILDREN's ru_maxrss is the largest of all children waited so far, so each
    measurement runs in a fresh Python child of its own.
    """
    probe = ("import resource, subprocess, sys\n"
             "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
             "if r.returncode: sys.stderr.write(r.stderr.decode()[-3000:]); sys.exit(r.returncode)\n"
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    _, out, _ = run([PY, "-c", probe, *map(str, cmd)], cwd=cwd, env=env)
    return int(out.strip().splitlines()[-1]) / 1024.0


def load_average():
    return os.getloadavg()


def ddmd(args, home, cwd=None, check=True, exe=DDMD):
    """`ddmd-pipe --home HOME ARGS`; returns (wall, stdout, stderr)."""
    return run([exe, "--home", str(home), *args], cwd=cwd, check=check)



def ddmd_query(home, sql):
    _, out, _ = ddmd(["query", sql, "--format", "json"], home)
    return json.loads(out)


@dataclass
class Sample:
    """Repeated measurements of one quantity (each value already a per-repetition figure)."""
    values: list
    unit: str

    @property
    def median(self):
        return statistics.median(self.values)

    def spread(self):
        """min–max range as ± % of the median (0 with one repetition)."""
        if len(self.values) < 2 or self.median == 0:
            return 0.0
        return 100.0 * (max(self.values) - min(self.values)) / 2.0 / abs(self.median)

    def show(self):
        m = self.median
        txt = f"{m:.3g}" if abs(m) < 1000 else f"{m:,.0f}"
        return f"{txt} {self.unit} ±{self.spread():.0f}% (n={len(self.values)})"


def paired_ratio(ours, peer):
    """Median of per-repetition ratios ours_i / peer_i. The two sides of a repetition run back
    to back, so on a machine shared with other work this cancels most of the load drift that a
    ratio of medians would keep."""
    return statistics.median(o / p for o, p in zip(ours.values, peer.values))


@dataclass
class Row:
    """One line of the table. `ratio` is ours/peer in the direction the goal is stated."""
    comparison: str
    ours: Sample
    peer: Sample
    ratio: float
    goal: str
    met: bool
    notes: list = field(default_factory=list)
