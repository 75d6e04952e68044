#!/usr/bin/env python3
"""A generating job for a `command` stage with `prompts:`, built on Hugging Face `diffusers`:
draws one image per line of $DDMD_PROMPTS into $DDMD_IMAGES/<id>.png (docs/PIPELINES.md,
"Drawing images").

The model is a small class-conditional `UNet2DModel` with a `DDIMScheduler`, randomly
initialised from `--seed` (no checkpoint can be downloaded here); a prompt's class is a hash of
its text. It stands in for a user's trained sampler: the contract, the files and the
evaluation are exactly what a real model goes through, the pictures are not. Pass
`--checkpoint DIR` (a `UNet2DModel.save_pretrained` folder) to load real weights instead.

  python diffusers_generate.py [--size 32] [--steps 4] [--classes 16] [--batch 16]
"""
import argparse
import hashlib
import json
import os
import sys

import torch
from diffusers import DDIMScheduler, UNet2DModel
from PIL import Image


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--classes", type=int, default=16)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0, help="weights of the random model")
    ap.add_argument("--variant", default="", help="a name mixed into the weights' seed (one model per matrix point)")
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--fail-after", type=int, default=None, help="tests: stop after N images")
    a = ap.parse_args()
    prompts = os.environ["DDMD_PROMPTS"]
    out_dir = os.environ["DDMD_IMAGES"]
    torch.manual_seed(a.seed + int.from_bytes(hashlib.sha256(a.variant.encode()).digest()[:4], "little"))
    if a.checkpoint:
        unet = UNet2DModel.from_pretrained(a.checkpoint)
    else:
        unet = UNet2DModel(
            sample_size=a.size,
            in_channels=3,
            out_channels=3,
            layers_per_block=1,
            block_out_channels=(16, 32),
            down_block_types=("DownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "UpBlock2D"),
            norm_num_groups=8,
            num_class_embeds=a.classes,
        )
    unet.eval()
    sched = DDIMScheduler(num_train_timesteps=1000)
    sched.set_timesteps(a.steps)
    with open(prompts) as f:
        items = [json.loads(l) for l in f if l.strip()]
    print(f"diffusers {__import__('diffusers').__version__}: {len(items)} images, "
          f"{a.size}x{a.size}, {a.steps} DDIM steps", file=sys.stderr)
    done = 0
    for start in range(0, len(items), a.batch):
        chunk = items[start:start + a.batch]
        # Each image's own seed from the manifest: the same image whatever the batching.
        noise = torch.stack([
            torch.randn(3, a.size, a.size, generator=torch.Generator().manual_seed(it["seed"]))
            for it in chunk
        ])
        labels = torch.tensor([
            int.from_bytes(hashlib.sha256(it["text"].encode()).digest()[:4], "little") % a.classes
            for it in chunk
        ])
        x = noise
        with torch.no_grad():
            for t in sched.timesteps:
                eps = unet(x, t, class_labels=labels).sample
                x = sched.step(eps, t, x).prev_sample
        imgs = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        for it, img in zip(chunk, imgs):
            if a.fail_after is not None and done >= a.fail_after:
                return 0
            Image.fromarray(img).save(os.path.join(out_dir, it["id"] + ".png"))
            done += 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
