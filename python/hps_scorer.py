#!/usr/bin/env python3
"""HPS v2.1 scorer for ddmd-pipe (command protocol, DESIGN §7 and §11).

Usage: hps_scorer.py --images DIR --prompts prompts.json [--checkpoint PATH] [--device cpu]

prompts.json is a list of {"file": "0.png", "prompt": "..."} with files relative to DIR.
Writes events (one JSON object per line) to $DDMD_EVENTS (stdout when unset):
  metric  key "hps"  value = mean HPS v2.1 score (image-text cosine, as hpsv2 reports it)
  status  state "unavailable" key "hps" message = reason   (no package / no checkpoint)
It never invents a score: anything missing is reported as unavailable, exit status 0.
"""
import argparse
import json
import os
import sys
import time

_seq = 0


def emit(obj):
    global _seq
    obj = dict(obj, seq=_seq, t=time.time())
    _seq += 1
    line = json.dumps(obj)
    path = os.environ.get("DDMD_EVENTS")
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")
    else:
        print(line, flush=True)


def unavailable(reason):
    emit({"type": "status", "state": "unavailable", "key": "hps", "message": reason})
    sys.exit(0)


def default_checkpoint():
    env = os.environ.get("HPS_CHECKPOINT")
    if env:
        return env
    root = os.environ.get("HPS_ROOT", os.path.expanduser("~/.cache/hpsv2"))
    return os.path.join(root, "HPS_v2.1_compressed.pt")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", required=True)
    ap.add_argument("--prompts", required=True)
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=16)
    a = ap.parse_args()

    ckpt = a.checkpoint or default_checkpoint()
    try:
        import torch  # noqa: F401
        import open_clip  # noqa: F401
    except ImportError as e:
        unavailable(f"python package missing: {e.name} (pip install hpsv2 open_clip_torch)")
    if not os.path.isfile(ckpt):
        unavailable(f"HPS v2.1 checkpoint not found at {ckpt} (set HPS_CHECKPOINT or --checkpoint)")
    try:
        with open(a.prompts) as f:
            items = json.load(f)
    except (OSError, ValueError) as e:
        emit({"type": "log", "level": "error", "message": f"cannot read prompts: {e}"})
        sys.exit(2)

    import torch
    from open_clip import create_model_and_transforms, get_tokenizer
    from PIL import Image

    device = a.device
    # HPS v2.1 is a fine-tuned OpenCLIP ViT-H-14 (hpsv2/img_score.py does the same).
    model, _, preprocess = create_model_and_transforms(
        "ViT-H-14", "laion2B-s32B-b79K", precision="amp", device=device, jit=False,
        force_quick_gelu=False, force_custom_text=False, force_patch_dropout=False,
        force_image_size=None, pretrained_image=False, image_mean=None, image_std=None,
        light_augmentation=True, aug_cfg={}, output_dict=True, with_score_predictor=False,
        with_region_predictor=False)
    state = torch.load(ckpt, map_location=device)
    model.load_state_dict(state["state_dict"])
    model.eval()
    tokenizer = get_tokenizer("ViT-H-14")
    scores = []
    for i in range(0, len(items), a.batch):
        chunk = items[i:i + a.batch]
        imgs = torch.stack([preprocess(Image.open(os.path.join(a.images, it["file"]))) for it in chunk]).to(device)
        text = tokenizer([it["prompt"] for it in chunk]).to(device)
        with torch.no_grad(), torch.autocast(device_type="cuda" if device.startswith("cuda") else "cpu"):
            out = model(imgs, text)
            s = (out["image_features"] * out["text_features"]).sum(-1)
        scores.extend(float(v) for v in s.cpu())
        emit({"type": "progress", "done": min(i + a.batch, len(items)), "total": len(items)})
    if not scores:
        unavailable("no images to score")
    emit({"type": "metric", "key": "hps", "step": 0, "value": sum(scores) / len(scores)})


if __name__ == "__main__":
    main()
