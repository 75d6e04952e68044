"""The PyTorch mirror of our built-in UNet (crates/science/src/nets/unet.rs and blocks.rs),
layer for layer: time embedding, prompt encoder with one transformer layer and a null token,
FiLM residual blocks, cross-attention at resolutions <= attn_res and in the middle, stride-2
down / nearest-up convolutions. Shared by the benchmark peer (dmd_step.py) and the parity test
crates/science/tests/unet_parity.rs, which loads our weights into it and compares outputs.

Our weights load by name (`load_ours`): the names are the same except that our up path is
numbered by level (`up.<level>`, `upsample.<level>`, deepest first) where this one numbers
its ModuleLists in execution order.

CLI (the parity test): `unet_mirror.py forward DIR [--perturb skip-mid]` reads DIR/spec.json
(our UnetConfig), DIR/weights.safetensors (our VarStore) and DIR/inputs.safetensors (x, tau,
tokens), and writes DIR/mirror_out.safetensors (v). `--perturb skip-mid` leaves out the middle
cross-attention, so that the test can show its comparison fails on a wrong mirror.
"""
import argparse
import json
import math
import struct
import sys
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

# The safetensors writer of the science parity tests' reference (one writer, not two).
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))
from ref_dmd import write_safetensors  # noqa: E402

VOCAB = 27  # crates/science/src/data/vocab.rs: pad, unk, 11 fixed words, 2 sizes, 9 colours, 3 shapes
MAX_TOKENS = 48  # crates/science/src/data/mod.rs


def groups(ch):
    return next(g for g in range(8, 0, -1) if ch % g == 0)


def zero_(m):
    nn.init.zeros_(m.weight)
    nn.init.zeros_(m.bias)
    return m


class TimeEmbedding(nn.Module):
    def __init__(self, freq_dim, emb_dim):
        super().__init__()
        self.freq_dim = freq_dim
        self.lin1 = nn.Linear(freq_dim, emb_dim)
        self.lin2 = nn.Linear(emb_dim, emb_dim)

    def forward(self, tau):
        half = self.freq_dim // 2
        freqs = torch.exp(torch.arange(half, dtype=torch.float32) * (-math.log(10000.0) / half))
        args = (tau.float() * 1000.0).unsqueeze(1) * freqs.unsqueeze(0)
        feats = torch.cat([args.sin(), args.cos()], 1)
        return self.lin2(F.silu(self.lin1(feats)))


class Attention(nn.Module):
    def __init__(self, dq, dk, dim, heads):
        super().__init__()
        self.heads, self.dim = heads, dim
        self.q = nn.Linear(dq, dim)
        self.k = nn.Linear(dk, dim)
        self.v = nn.Linear(dk, dim)
        self.out = zero_(nn.Linear(dim, dq))

    def forward(self, q_in, kv_in, key_ok):
        b, lq, _ = q_in.shape
        lk = kv_in.shape[1]
        dh = self.dim // self.heads

        def split(t, l):
            return t.view(b, l, self.heads, dh).transpose(1, 2)

        q = split(self.q(q_in), lq)
        k = split(self.k(kv_in), lk)
        v = split(self.v(kv_in), lk)
        scores = q.matmul(k.transpose(-2, -1)) / math.sqrt(dh)
        mask = key_ok.logical_not().view(b, 1, 1, lk)
        attn = scores.masked_fill(mask, float("-inf")).softmax(-1)
        o = attn.matmul(v).transpose(1, 2).reshape(b, lq, self.dim)
        return self.out(o)


class PromptEncoder(nn.Module):
    def __init__(self, vocab, max_tokens, dim, heads, emb_dim):
        super().__init__()
        self.tok = nn.Embedding(vocab, dim)
        self.pos = nn.Parameter(torch.randn(max_tokens + 1, dim) * 0.02)
        self.null = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.ln1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, dim, dim, heads)
        self.ln2 = nn.LayerNorm(dim)
        self.mlp1 = nn.Linear(dim, 2 * dim)
        self.mlp2 = zero_(nn.Linear(2 * dim, dim))
        self.ln_out = nn.LayerNorm(dim)
        self.pool = nn.Linear(dim, emb_dim)

    def forward(self, tokens):
        b, l = tokens.shape
        emb = self.tok(tokens)
        h = torch.cat([self.null.expand(b, 1, -1), emb], 1) + self.pos[: l + 1].unsqueeze(0)
        ok = torch.cat([torch.ones(b, 1, dtype=torch.bool), tokens != 0], 1)
        n = self.ln1(h)
        h = h + self.attn(n, n, ok)
        h = h + self.mlp2(F.gelu(self.mlp1(self.ln2(h))))
        ctx = self.ln_out(h)
        w = ok.float().unsqueeze(-1)
        pooled = (ctx * w).sum(1) / w.sum(1)
        return ctx, ok, self.pool(pooled)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, emb_dim):
        super().__init__()
        self.gn1 = nn.GroupNorm(groups(cin), cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.film = zero_(nn.Linear(emb_dim, 2 * cout))
        self.gn2 = nn.GroupNorm(groups(cout), cout)
        self.conv2 = zero_(nn.Conv2d(cout, cout, 3, padding=1))
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.gn1(x)))
        scale, shift = self.film(emb)[:, :, None, None].chunk(2, 1)
        h = self.gn2(h) * (scale + 1.0) + shift
        h = self.conv2(F.silu(h))
        return (self.skip(x) if self.skip is not None else x) + h


class CrossAttention(nn.Module):
    def __init__(self, ch, ctx_dim, heads):
        super().__init__()
        self.gn = nn.GroupNorm(groups(ch), ch)
        self.attn = Attention(ch, ctx_dim, ch, heads)

    def forward(self, x, ctx, ok):
        b, c, h, w = x.shape
        q = self.gn(x).view(b, c, h * w).transpose(1, 2)
        o = self.attn(q, ctx, ok)
        return x + o.transpose(1, 2).reshape(b, c, h, w)


class Level(nn.Module):
    def __init__(self):
        super().__init__()
        self.res = nn.ModuleList()
        self.attn = nn.ModuleList()

    def run(self, i, h, emb, ctx, ok):
        h = self.res[i](h, emb)
        return self.attn[i](h, ctx, ok) if i < len(self.attn) else h


class Unet(nn.Module):
    """crates/science/src/nets/unet.rs."""

    def __init__(self, resolution=16, widths=(32, 64), blocks=1, emb_dim=64, token_dim=64,
                 heads=4, attn_res=8, vocab=VOCAB, max_tokens=MAX_TOKENS):
        super().__init__()
        w = list(widths)
        self.time = TimeEmbedding(emb_dim, emb_dim)
        self.prompt = PromptEncoder(vocab, max_tokens, token_dim, heads, emb_dim)
        self.conv_in = nn.Conv2d(3, w[0], 3, padding=1)
        attn_at = lambda level: (resolution >> level) <= attn_res  # noqa: E731
        self.down, self.downsample = nn.ModuleList(), nn.ModuleList()
        ch, skips = w[0], []
        for i, wi in enumerate(w):
            lv = Level()
            for _ in range(blocks):
                lv.res.append(ResBlock(ch, wi, emb_dim))
                if attn_at(i):
                    lv.attn.append(CrossAttention(wi, token_dim, heads))
                ch = wi
                skips.append(ch)
            self.down.append(lv)
            if i + 1 < len(w):
                self.downsample.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
        self.mid = CrossAttention(ch, token_dim, heads)
        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for i in reversed(range(len(w))):
            wi = w[i]
            lv = Level()
            for _ in range(blocks):
                skip = skips.pop() if skips else 0
                lv.res.append(ResBlock(ch + skip, wi, emb_dim))
                if attn_at(i):
                    lv.attn.append(CrossAttention(wi, token_dim, heads))
                ch = wi
            self.up.append(lv)
            if i > 0:
                self.upsample.append(nn.Conv2d(ch, w[i - 1], 3, padding=1))
                ch = w[i - 1]
        self.gn_out = nn.GroupNorm(min(8, ch), ch)
        self.conv_out = zero_(nn.Conv2d(ch, 3, 3, padding=1))
        # "skip-mid": a deliberately wrong mirror, for the parity test's negative check.
        self.perturb = "none"

    def forward(self, x, tau, tokens):
        ctx, ok, pooled = self.prompt(tokens)
        emb = F.silu(self.time(tau) + pooled)
        h = self.conv_in(x)
        skips = []
        for i, lv in enumerate(self.down):
            for b in range(len(lv.res)):
                h = lv.run(b, h, emb, ctx, ok)
                skips.append(h)
            if i < len(self.downsample):
                h = self.downsample[i](h)
        if self.perturb != "skip-mid":
            h = self.mid(h, ctx, ok)
        for j, lv in enumerate(self.up):
            for b in range(len(lv.res)):
                if skips:
                    h = torch.cat([h, skips.pop()], 1)
                h = lv.run(b, h, emb, ctx, ok)
            if j < len(self.upsample):
                hh, ww = h.shape[2:]
                h = self.upsample[j](F.interpolate(h, size=(2 * hh, 2 * ww), mode="nearest"))
        return self.conv_out(F.silu(self.gn_out(h)))


def unet_from_spec(spec):
    """Our NetSpec JSON ({"backend": "unet", ...UnetConfig}) to a mirror with the same shape."""
    if spec.get("backend") != "unet":
        raise ValueError(f"the mirror covers the built-in UNet only, not {spec.get('backend')!r}")
    keys = ("resolution", "widths", "blocks", "emb_dim", "token_dim", "heads", "attn_res",
            "vocab", "max_tokens")
    return Unet(**{k: spec[k] for k in keys})


def ours_to_mirror_name(name, levels):
    """`up.<level>.…` / `upsample.<level>.…` (ours, by level) to the mirror's list index."""
    parts = name.split(".")
    if parts[0] in ("up", "upsample"):
        parts[1] = str(levels - 1 - int(parts[1]))
    return ".".join(parts)


def load_ours(unet, tensors):
    """Loads our VarStore's tensors into `unet` (strict: every name on both sides)."""
    levels = len(unet.down)
    state = {ours_to_mirror_name(k, levels): v for k, v in tensors.items()}
    unet.load_state_dict(state, strict=True)
    return unet


_DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "I32": torch.int32,
           "BOOL": torch.bool, "F16": torch.float16, "BF16": torch.bfloat16}


def read_safetensors(path):
    """name -> tensor; the format is a little-endian u64 header length, a JSON header, data."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    base, out = 8 + n, {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        lo, hi = h["data_offsets"]
        buf = bytearray(raw[base + lo:base + hi])
        t = torch.frombuffer(buf, dtype=_DTYPES[h["dtype"]]) if buf else torch.empty(
            0, dtype=_DTYPES[h["dtype"]])
        out[name] = t.reshape(h["shape"])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["forward"])
    ap.add_argument("dir")
    ap.add_argument("--perturb", choices=["none", "skip-mid"], default="none")
    a = ap.parse_args()
    with open(f"{a.dir}/spec.json") as f:
        unet = unet_from_spec(json.load(f))
    load_ours(unet, read_safetensors(f"{a.dir}/weights.safetensors"))
    unet.perturb = a.perturb
    inp = read_safetensors(f"{a.dir}/inputs.safetensors")
    with torch.no_grad():
        v = unet(inp["x"], inp["tau"], inp["tokens"])
    write_safetensors(f"{a.dir}/mirror_out.safetensors", {"v": v})
    print(json.dumps({"params": sum(p.numel() for p in unet.parameters()),
                      "max_abs_v": v.abs().max().item()}))


if __name__ == "__main__":
    sys.exit(main())
