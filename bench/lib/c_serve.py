"""Issue 18: does a dashboard slow the database's writer? N metric points ingested from a
running job (pre-serialised events appended with `cat`, so ingestion is the bound, as row 3b)
through a real `ddmd-pipe run`, with no page open and with five pages of `ddmd-pipe serve`
following that run as a browser does: every second the points and events after the last seq
and the log tail, every five seconds the runs table. The two sides of each repetition run back
to back; the ratio is the median of per-repetition ratios (open / none). Goal: ≤ 1.10.
"""
import json
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

# Row 3b's job: pre-serialised events appended with `cat`, timed from `<stamps>.first`.
from c_track import _cat_pipeline, _event_lines
from common import DDMD, BenchError, Row, Sample, ddmd, paired_ratio

PAGES = 5


def _get(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read()) if "json" in r.headers.get("Content-Type", "") else r.read()


class Page(threading.Thread):
    """One open run page (and its runs table), polling like app.js does."""

    def __init__(self, base, stop):
        super().__init__(daemon=True)
        self.base, self.stop, self.requests = base, stop, 0

    def run(self):
        run_id, last, events, tick = None, -1, -1, 0
        while not self.stop.is_set():
            try:
                if run_id is None:
                    page = _get(f"{self.base}/api/runs?status=running&limit=1")
                    self.requests += 1
                    if page["runs"]:
                        run_id = page["runs"][0]["run"]["id"]
                if run_id is not None:
                    # As app.js: one poll a tick (the server thins a backlog).
                    p = _get(f"{self.base}/api/runs/{run_id}/points?after={last}")
                    last = p["last_seq"]
                    self.requests += 1
                    e = _get(f"{self.base}/api/runs/{run_id}/events?after={events}")
                    events = e["last_seq"]
                    _get(f"{self.base}/api/runs/{run_id}/log?bytes=16384")
                    self.requests += 2
                    if p["status"] not in ("queued", "running"):
                        run_id, last, events = None, -1, -1
                if tick % 5 == 0:
                    _get(f"{self.base}/api/runs?limit=100")
                    self.requests += 1
            except Exception:  # noqa: BLE001 - a page that misses a tick polls again
                pass
            tick += 1
            self.stop.wait(1.0)


def _ingest(home, spec, lines_n, stamp):
    ddmd(["run", str(spec), "--quiet", "--force"], home)
    end = time.time()
    first = float(Path(f"{stamp}.first").read_text())
    return lines_n / (end - first)


def serve_row(size):
    n, reps = size["log_points"], size["reps"]
    none, open_ = [], []
    requests = 0
    with tempfile.TemporaryDirectory(prefix="ddmd-bench-serve-") as tmp:
        tmp = Path(tmp)
        home, lines, stamp = tmp / "home", tmp / "events.jsonl", tmp / "stamps"
        _event_lines(lines, n)
        spec = tmp / "serve.yaml"
        spec.write_text(_cat_pipeline(lines, stamp))
        ddmd(["run", str(spec), "--quiet"], home)  # the database exists before serve opens it
        server = subprocess.Popen([DDMD, "--home", str(home), "serve", "--port", "0"],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            line = server.stdout.readline()
            if "http://" not in line:
                raise BenchError(f"serve did not start: {line!r}")
            base = "http://" + line.split("http://")[1].split("/")[0]
            for _ in range(reps):
                none.append(_ingest(home, spec, n, stamp))
                stop = threading.Event()
                pages = [Page(base, stop) for _ in range(PAGES)]
                for p in pages:
                    p.start()
                time.sleep(1.5)  # the pages are open before the job starts
                open_.append(_ingest(home, spec, n, stamp))
                stop.set()
                for p in pages:
                    p.join()
                requests += sum(p.requests for p in pages)
        finally:
            server.terminate()
            server.wait()
    o, p = Sample([1 / v for v in open_], "s/pt"), Sample([1 / v for v in none], "s/pt")
    ratio = paired_ratio(o, p)
    return [Row("serve", f"issue 18. ingest time with {PAGES} dashboard pages open vs none", o, p,
                ratio, "paired", "≤ 1.10×", ratio <= 1.10,
                [f"{n:,} pre-serialised points through `ddmd-pipe run` (row 3b's job), first write "
                 f"→ all rows ingested; {PAGES} pages of `ddmd-pipe serve` polling as app.js "
                 f"does ({requests:,} requests in all); ingest {Sample(none, 'pts/s').show()} "
                 f"alone vs {Sample(open_, 'pts/s').show()} watched"])]
