"""The job of comparison 3 / issue 2: a `command` stage writing N metric points through the
project's helper (python/ddmd_events.py, on the stage's PYTHONPATH), 10 keys, like a training
loop. Writes `{"first": t0, "last": t1}` (wall clock) to the file given as the 2nd argument,
so the driver can time from the first write to the last row ingested and see whether the
writer was ever slowed down by the ingestion.

  emit_events.py N TIMES_FILE
"""
import json
import sys
import time

import ddmd_events as ev

n, out = int(sys.argv[1]), sys.argv[2]
keys = [f"train/m{k}" for k in range(10)]
first = time.time()
for i in range(n):
    ev.metric(keys[i % 10], i * 1e-3, i // 10)
ev.flush()
last = time.time()
with open(out, "w") as f:
    json.dump({"first": first, "last": last}, f)
