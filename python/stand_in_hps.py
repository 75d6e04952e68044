#!/usr/bin/env python3
"""STAND-IN for hps_scorer.py: NOT a human-preference score.

It follows the same command protocol (same arguments, same events) so that the plumbing of
the HPS adapter can be tested without the 2 GB HPS v2.1 checkpoint. Its "score" is a fixed,
checkable function of the inputs: the fraction of listed image files that exist, times the
mean prompt length in words, divided by 100. Standard library only.
"""
import argparse
import json
import os
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", required=True)
    ap.add_argument("--prompts", required=True)
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--unavailable", default=None, help="report the metric unavailable with this reason")
    a = ap.parse_args()
    seq = [0]

    def emit(obj):
        obj = dict(obj, seq=seq[0], t=time.time())
        seq[0] += 1
        path = os.environ.get("DDMD_EVENTS")
        line = json.dumps(obj)
        if path:
            with open(path, "a") as f:
                f.write(line + "\n")
        else:
            print(line, flush=True)

    emit({"type": "log", "level": "warn", "message": "stand-in HPS scorer: plumbing test only, not HPS"})
    if a.unavailable:
        emit({"type": "status", "state": "unavailable", "key": "hps", "message": a.unavailable})
        return 0
    with open(a.prompts) as f:
        items = json.load(f)
    if not items:
        emit({"type": "status", "state": "unavailable", "key": "hps", "message": "no images"})
        return 0
    present = sum(os.path.isfile(os.path.join(a.images, it["file"])) for it in items) / len(items)
    words = sum(len(it["prompt"].split()) for it in items) / len(items)
    emit({"type": "metric", "key": "hps", "step": 0, "value": present * words / 100.0})
    return 0


if __name__ == "__main__":
    sys.exit(main())
