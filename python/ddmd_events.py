"""Report metrics, artifacts and progress from a `command` stage of ddmd-pipe.

Standard library only. Events are JSON lines appended to the file named by $DDMD_EVENTS
(see DESIGN §7); without it (a script run by hand) they are printed to stdout.

    import ddmd_events as ev
    for step in range(100):
        ev.metric("train/loss", loss, step=step)
        ev.progress(step + 1, 100)
    ev.artifact("model", "model.pt")        # relative to $DDMD_ARTIFACTS, and inside it
    ev.unavailable("hps@4", "no HPS v2.1 checkpoint configured")

Sequence numbers continue after the last event already in the file, so several processes of
one job (run one after another) never reuse a number: the orchestrator keys rows by them.

In a multi-process job (torchrun sets RANK and WORLD_SIZE) only global rank 0 writes, so a
metric every rank logs is recorded once; `metric(..., all_ranks=True)` writes from every rank
under a per-rank key (`grad_norm/rank3`). The ranks share the one $DDMD_EVENTS file: each
rank numbers its events in its own residue class modulo the world size and appends whole
lines with one write each, so lines never interleave and numbers never collide.
What the orchestrator refuses (recorded as a warning that `ddmd-pipe runs show` lists): keys
over 256 bytes or with control characters, artifact paths that are absolute or lead out of
$DDMD_ARTIFACTS. Messages over 64 KiB are cut. See DESIGN §7.
"""

import json
import math
import os
import sys
import time

__all__ = ["metric", "metrics", "artifact", "log", "progress", "status", "unavailable",
           "artifacts_dir", "flush"]

_file = None
_seq = None
_fd = None


def _rank():
    return int(os.environ.get("RANK", "0") or 0)


def _world():
    return max(1, int(os.environ.get("WORLD_SIZE", "1") or 1))


def _last_seq(path):
    """Largest seq already in the file (scan from the end: cheap even for big files)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 65536))
            tail = f.read().splitlines()
    except OSError:
        return -1
    for line in reversed(tail):
        try:
            return int(json.loads(line)["seq"])
        except (ValueError, KeyError, TypeError):
            continue
    return -1


def _open():
    global _file, _seq, _fd
    if _seq is not None:
        return
    path = os.environ.get("DDMD_EVENTS")
    world = _world()
    if path and world > 1:
        # The first number of this rank's residue class above everything already written.
        start = _last_seq(path) + 1
        _seq = -(-start // world) * world + _rank()
        _fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    elif path:
        _seq = _last_seq(path) + 1
        _file = open(path, "a", buffering=1 << 16)
    else:
        _seq = 0
        _file = sys.stdout


def _num(v):
    # The spellings of ddmd_core::nonfinite (JSON has no NaN).
    v = float(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v


def _emit(kind, flush=False, all_ranks=False, **fields):
    global _seq
    if _rank() != 0 and not all_ranks:
        return
    _open()
    ev = {"seq": _seq, "t": time.time(), "type": kind}
    ev.update(fields)
    line = json.dumps(ev, allow_nan=False) + "\n"
    if _fd is not None:
        # One write per line on an O_APPEND descriptor: ranks never split each other's lines.
        _seq += _world()
        os.write(_fd, line.encode())
        return
    _seq += 1
    _file.write(line)
    if flush:
        _file.flush()


def metric(key, value, step=0, all_ranks=False):
    """One point of a metric curve (`value` may be NaN or infinite). In a multi-process job
    only rank 0's is written, unless `all_ranks`: then every rank writes `key/rank<r>`."""
    if all_ranks:
        key = f"{key}/rank{_rank()}"
    _emit("metric", all_ranks=all_ranks, key=str(key), step=int(step), value=_num(value))


def metrics(values, step=0):
    """Several metrics at one step: `metrics({"loss": 0.1, "acc": 0.9}, step=10)`."""
    for k, v in values.items():
        metric(k, v, step)


def artifact(name, path):
    """A file or folder the job produced, relative to $DDMD_ARTIFACTS (`..` may not leave it)."""
    _emit("artifact", flush=True, name=str(name), path=str(path))


def log(message, level="info", all_ranks=False):
    if all_ranks:
        message = f"[rank {_rank()}] {message}"
    _emit("log", all_ranks=all_ranks, level=level, message=str(message))


def progress(done, total=None, message=None):
    fields = {"done": float(done)}
    if total is not None:
        fields["total"] = float(total)
    if message is not None:
        fields["message"] = str(message)
    _emit("progress", **fields)


def status(state, key=None, message=None):
    fields = {"state": str(state)}
    if key is not None:
        fields["key"] = str(key)
    if message is not None:
        fields["message"] = str(message)
    _emit("status", flush=True, **fields)


def unavailable(key, reason):
    """Mark a metric that could not be computed; reports show the reason."""
    status("unavailable", key=key, message=reason)


def artifacts_dir():
    """Where to write results: kept only if the job succeeds."""
    return os.environ.get("DDMD_ARTIFACTS", ".")


def flush():
    if _file is not None:
        _file.flush()


import atexit  # noqa: E402

atexit.register(flush)
