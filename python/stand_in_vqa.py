#!/usr/bin/env python3
"""STAND-IN VQA scorer for DPG-Bench: NOT a vision-language model.

It speaks the VQA scorer protocol of `evaluate` (docs/PIPELINES.md, "DPG scorers") so that
the protocol, the DPG-Bench rule and the reports can be tested where the benchmark's mPLUG
model cannot be downloaded. Its answers know nothing about the images' content: an answer is
"yes" when the first byte of sha256(image file bytes + question text) is below 179 (about
70 % yes), so it is deterministic, differs between images, and changes when an image does.

Protocol: read $DDMD_VQA_REQUESTS (JSONL, one image per line:
  {"image_id": "...", "image": "/abs/path.png", "questions": [{"id": 1, "text": "..."}]})
and write $DDMD_VQA_ANSWERS (JSONL, one line per image:
  {"image_id": "...", "answers": {"1": "yes", "2": "no"}}).
Standard library only.
"""
import hashlib
import json
import os
import sys


def main():
    req_path = os.environ["DDMD_VQA_REQUESTS"]
    out_path = os.environ["DDMD_VQA_ANSWERS"]
    print("stand-in VQA scorer: protocol test only, answers are a hash, not VQA", file=sys.stderr)
    with open(req_path) as f, open(out_path + ".tmp", "w") as out:
        for line in f:
            if not line.strip():
                continue
            req = json.loads(line)
            with open(req["image"], "rb") as img:
                data = img.read()
            answers = {}
            for q in req["questions"]:
                h = hashlib.sha256(data + q["text"].encode()).digest()
                answers[str(q["id"])] = "yes" if h[0] < 179 else "no"
            out.write(json.dumps({"image_id": req["image_id"], "answers": answers}) + "\n")
    os.replace(out_path + ".tmp", out_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
