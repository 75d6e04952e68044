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

import render

ROOT = Path(__file__).resolve().parents[2]
PY = str(ROOT / ".venv" / "bin" / "python")
# bench/run passes cargo's target folder (CARGO_TARGET_DIR may put it outside the checkout).
TARGET = Path(os.environ.get("BENCH_TARGET_DIR") or ROOT / "target")
# bench/run --profile: release (the figures) or dev (the test command's build, for --size tiny).
PROFILE_DIR = "debug" if os.environ.get("BENCH_PROFILE") == "dev" else "release"
DDMD = str(TARGET / PROFILE_DIR / "ddmd-pipe")
EXAMPLES = TARGET / PROFILE_DIR / "examples"


class BenchError(RuntimeError):
    """A comparison could not be measured (a tool failed, an output was not what we expect)."""


def run(cmd, cwd=None, env=None, check=True, timeout=1800, input=None):
    """Runs `cmd` (with `input` on its stdin); returns (wall seconds, stdout, stderr). Raises
    BenchError on failure."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, text=True,
                       timeout=timeout, input=input)
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


def ddmd(args, home, cwd=None, check=True, exe=DDMD, env=None):
    """`ddmd-pipe --home HOME ARGS` (with `env` added to ours); returns (wall, stdout, stderr)."""
    return run([exe, "--home", str(home), *args], cwd=cwd, env=env, check=check)



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
        return render.side(self.to_json())

    def to_json(self):
        """Every repetition and what the doc prints of them (bench/lib/render.py)."""
        return {"values": list(self.values), "unit": self.unit, "n": len(self.values),
                "min": min(self.values), "median": self.median, "max": max(self.values),
                "spread_pct": self.spread()}


def paired_ratios(ours, peer):
    """Per-repetition ratios ours_i / peer_i, for sides whose repetition i ran back to back."""
    if len(ours.values) != len(peer.values):
        raise BenchError(f"{len(ours.values)} vs {len(peer.values)} repetitions: not paired")
    return [o / p for o, p in zip(ours.values, peer.values)]


def paired_ratio(ours, peer):
    """Median of per-repetition ratios ours_i / peer_i. The two sides of a repetition run back
    to back, so on a machine shared with other work this cancels most of the load drift that a
    ratio of medians would keep."""
    return statistics.median(paired_ratios(ours, peer))


@dataclass
class Row:
    """One line of the table. `ratio` is ours/peer in the direction the goal is stated;
    `ratio_kind` says how it was formed: `paired` (median of per-repetition ratios, the two
    sides of each repetition run back to back), `medians` (median of ours / median of peer,
    for sides that cannot be interleaved) or `value` (the measured value itself). `id` is
    what the doc's markers name (`<!-- bench:table 1,2a -->`). `met` is None for a row with no
    goal (a bound shown for scale, not a peer to beat)."""
    id: str
    comparison: str
    ours: Sample
    peer: Sample
    ratio: float
    ratio_kind: str
    goal: str
    met: bool
    notes: list = field(default_factory=list)

    def __post_init__(self):
        if self.ratio_kind not in render.RATIO_KIND:
            raise ValueError(f"row {self.id}: ratio_kind {self.ratio_kind!r}")

    def to_json(self):
        per_rep = (paired_ratios(self.ours, self.peer) if self.ratio_kind == "paired" else None)
        return {"id": self.id, "comparison": self.comparison, "ours": self.ours.to_json(),
                "peer": self.peer.to_json(), "ratio": self.ratio, "ratio_kind": self.ratio_kind,
                "per_rep_ratios": per_rep, "goal": self.goal,
                "met": None if self.met is None else bool(self.met),
                "notes": list(self.notes)}
