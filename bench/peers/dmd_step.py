"""Peer of comparison 1: one Decoupled-DMD distill iteration in PyTorch eager Python.

Mirrors, layer for layer, the built-in UNet of crates/science/src/nets (time embedding, prompt
encoder with one transformer layer and a null token, FiLM residual blocks, cross-attention at
resolutions <= attn_res and in the middle, stride-2 down / nearest-up convolutions) and the
iteration of crates/science/src/distill/step.rs: backward simulation to a random student step
k, the generator loss (CA + DM terms, DMD2 normalisation, teacher calls batched in one
forward), AdamW with gradient clipping, then `fake_updates` flow-matching updates of the fake
score. Same parameter count as the Rust network (printed, and checked by bench/run).

Usage: dmd_step.py --schedule hybrid --batch 32 --iters 10 [--widths 32,64]
Prints one JSON line: {"params": N, "threads": T, "median_ms": .., "times_ms": [..]}.
It measures speed only; numerical parity with the Rust step is tested elsewhere
(crates/science/tests/parity.rs with python/ref_dmd.py).
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

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


def per(t):
    return t[:, None, None, None]


def renoise(x0, eps, tau):
    return per(tau) * x0 + (1 - per(tau)) * eps


def x0_from_v(x, tau, v):
    return x + (1 - per(tau)) * v


def norm_weight(x, r, eps):
    return (x - r).abs().mean(dim=(1, 2, 3), keepdim=True) + eps


def pull(x, delta):
    return 0.5 * (x - (x.detach() + delta).detach()).square().mean()


def draw(schedule, t, b, shape, tmin=0.02, tmax=0.98):
    """levels.rs NoiseDraw::sample."""
    def uniform():
        return torch.rand(b) * (tmax - tmin) + tmin

    def above():
        return ((1 - torch.rand(b)) * (1 - t) + t).clamp(tmin, tmax)

    eps_ca = torch.randn(shape)
    if schedule == "coupled":
        tau = uniform()
        return tau, tau, eps_ca, eps_ca
    if schedule == "hybrid":
        return above(), uniform(), eps_ca, torch.randn(shape)
    return above(), above(), eps_ca, torch.randn(shape)


class Distiller:
    """step.rs Distiller with the default parameters (alpha 4, ca 1, dm 1, regulariser dm)."""

    def __init__(self, teacher, schedule, steps=4, fake_updates=5, alpha=4.0, norm_eps=1e-4,
                 clip=1.0, lr=1e-5):
        self.teacher = teacher.requires_grad_(False)
        self.student = Unet(**teacher.cfg)
        self.student.load_state_dict(teacher.state_dict())
        self.fake = Unet(**teacher.cfg)
        self.fake.load_state_dict(teacher.state_dict())
        self.opt_g = torch.optim.AdamW(self.student.parameters(), lr=lr, weight_decay=0.0)
        self.opt_f = torch.optim.AdamW(self.fake.parameters(), lr=lr, weight_decay=0.0)
        self.schedule, self.steps, self.fake_updates = schedule, steps, fake_updates
        self.alpha, self.norm_eps, self.clip = alpha, norm_eps, clip

    def step(self, tokens, res):
        b, n = tokens.shape[0], self.steps
        shape = (b, 3, res, res)
        k = int(torch.randint(n, (1,)).item()) if n > 1 else 0
        x = torch.randn(shape)
        with torch.no_grad():  # backward simulation
            for j in range(k):
                tj = torch.full((b,), j / n)
                x0 = x0_from_v(x, tj, self.student(x, tj, tokens))
                x = renoise(x0, torch.randn(shape), torch.full((b,), (j + 1) / n))
        t = k / n
        tv = torch.full((b,), t)
        xs = x0_from_v(x, tv, self.student(x, tv, tokens))
        sg = xs.detach()
        tau_ca, tau_dm, eps_ca, eps_dm = draw(self.schedule, t, b, shape)
        x_ca, x_dm = renoise(sg, eps_ca, tau_ca), renoise(sg, eps_dm, tau_dm)
        with torch.no_grad():
            v = self.teacher(torch.cat([x_ca, x_ca, x_dm]), torch.cat([tau_ca, tau_ca, tau_dm]),
                             torch.cat([tokens, torch.zeros_like(tokens), tokens]))
            vc, vu, vr = v.chunk(3)
            rc, ru, r = x0_from_v(x_ca, tau_ca, vc), x0_from_v(x_ca, tau_ca, vu), x0_from_v(x_dm, tau_dm, vr)
            d_ca = torch.nan_to_num((rc - ru) * (self.alpha - 1) / norm_weight(sg, rc, self.norm_eps), 0.0, 0.0, 0.0)
            vf = self.fake(x_dm, tau_dm, tokens)
            f = x0_from_v(x_dm, tau_dm, vf)
            d_dm = torch.nan_to_num((r - f) / norm_weight(sg, r, self.norm_eps), 0.0, 0.0, 0.0)
            # Monitoring the Rust step also computes (read back as f64 every iteration).
            F.cosine_similarity(vr.flatten(1), vf.flatten(1), 1, 1e-8).mean().item()
        l_ca, l_dm = pull(xs, d_ca), pull(xs, d_dm)
        loss = xs.sum() * 0.0 + l_ca + l_dm
        l_ca.item(), l_dm.item(), d_ca.abs().mean().item(), d_dm.abs().mean().item()
        self.opt_g.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.student.parameters(), self.clip)
        self.opt_g.step()
        loss.item()
        for _ in range(self.fake_updates):
            tau = torch.rand(b) * 0.96 + 0.02
            eps = torch.randn(shape)
            vf = self.fake(renoise(sg, eps, tau), tau, tokens)
            lf = (vf - (sg - eps)).square().mean()
            self.opt_f.zero_grad()
            lf.backward()
            torch.nn.utils.clip_grad_norm_(self.fake.parameters(), self.clip)
            self.opt_f.step()
            lf.item()


def prompts(b, gen):
    """Token rows like the shapes world's: 10-30 real tokens, PAD (0) after."""
    t = torch.zeros(b, MAX_TOKENS, dtype=torch.long)
    for i in range(b):
        n = int(torch.randint(10, 31, (1,), generator=gen))
        t[i, :n] = torch.randint(2, VOCAB, (n,), generator=gen)
    return t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--schedule", default="hybrid")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--widths", default="32,64")
    ap.add_argument("--resolution", type=int, default=16)
    a = ap.parse_args()
    torch.manual_seed(0)
    cfg = dict(resolution=a.resolution, widths=[int(w) for w in a.widths.split(",")])
    teacher = Unet(**cfg)
    teacher.cfg = cfg
    d = Distiller(teacher, a.schedule)
    tokens = prompts(a.batch, torch.Generator().manual_seed(1))
    times = []
    for i in range(a.iters + 2):  # two warm-up iterations, as bench_distill_step
        t0 = time.perf_counter()
        d.step(tokens, a.resolution)
        if i >= 2:
            times.append((time.perf_counter() - t0) * 1e3)
    s = sorted(times)
    print(json.dumps({
        "params": sum(p.numel() for p in teacher.parameters()),
        "threads": torch.get_num_threads(),
        "median_ms": s[len(s) // 2],
        "times_ms": times,
    }))


if __name__ == "__main__":
    main()
