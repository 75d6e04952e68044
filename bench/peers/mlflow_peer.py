"""MLflow peer (comparisons 3 and 4), on a SQLite backend store.

  mlflow_peer.py log DB N        log N metric points to one run with log_batch, 1,000 per call
  mlflow_peer.py runs DB R Q     create R runs (10 metrics x 10 steps, 1 param each), then
                                 time mlflow.search_runs over them Q times
Prints one JSON line. Times exclude `import mlflow` and the schema creation (the first
client call), so they are MLflow's own logging / query cost.
"""
import json
import sys
import time

import mlflow
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

KEYS = [f"train/m{k}" for k in range(10)]


def client(db):
    uri = f"sqlite:///{db}"
    mlflow.set_tracking_uri(uri)
    c = MlflowClient(tracking_uri=uri)
    exp = c.create_experiment("bench")  # creates the schema: not timed
    return c, exp


def log(db, n):
    c, exp = client(db)
    run = c.create_run(exp).info.run_id
    t = time.perf_counter()
    now = int(time.time() * 1000)
    for start in range(0, n, 1000):
        batch = [Metric(KEYS[i % 10], float(i) * 1e-3, now, i // 10)
                 for i in range(start, min(n, start + 1000))]
        c.log_batch(run, metrics=batch)
    wall = time.perf_counter() - t
    c.set_terminated(run)
    print(json.dumps({"points": n, "seconds": wall, "points_per_s": n / wall}))


def runs(db, r, q):
    c, exp = client(db)
    now = int(time.time() * 1000)
    t = time.perf_counter()
    for i in range(r):
        run = c.create_run(exp).info.run_id
        ms = [Metric(KEYS[k], (k + 1) / (s + 1), now, s) for s in range(10) for k in range(10)]
        c.log_batch(run, metrics=ms, params=[Param("i", str(i))])
        c.set_terminated(run)
    populate = time.perf_counter() - t
    times = []
    for _ in range(q):
        t = time.perf_counter()
        df = mlflow.search_runs(experiment_ids=[exp], max_results=max(r, 1000))
        times.append(time.perf_counter() - t)
        if len(df) != r or "metrics.train/m9" not in df.columns:
            sys.exit(f"search_runs returned {len(df)} rows, columns {list(df.columns)[:20]}")
    print(json.dumps({"runs": r, "populate_s": populate, "query_s": times}))


if __name__ == "__main__":
    if sys.argv[1] == "log":
        log(sys.argv[2], int(sys.argv[3]))
    else:
        runs(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
