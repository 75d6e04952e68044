"""A toy training script for the example command pipeline: logs a loss curve through
ddmd_events and writes a small result file. Exits non-zero on a NaN loss."""

import argparse
import math
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ddmd_events as ev  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, required=True)
p.add_argument("--steps", type=int, default=50)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--sleep", type=float, default=0.0)
a = p.parse_args()

rng = random.Random(a.seed)
w = 5.0
for step in range(a.steps):
    grad = 2 * w + rng.gauss(0, 0.1)
    w -= a.lr * grad
    loss = w * w
    ev.metric("train/loss", loss, step)
    ev.progress(step + 1, a.steps)
    if a.sleep:
        time.sleep(a.sleep)
    if math.isnan(loss) or math.isinf(loss):
        ev.status("failed", message=f"loss diverged at step {step}")
        sys.exit(3)
ev.metric("final_loss", loss, a.steps)
with open(os.path.join(ev.artifacts_dir(), "weights.txt"), "w") as f:
    f.write(f"{w}\n")
ev.artifact("weights", "weights.txt")
print(f"lr={a.lr} final loss {loss:.6f}")
