"""Peer of comparison 1: one Decoupled-DMD distill iteration in PyTorch eager Python.

The network is unet_mirror.py's mirror of our UNet (its parity with ours is tested by
crates/science/tests/unet_parity.rs); the iteration mirrors `Distiller::step`
(crates/science/src/distill/step.rs) with the default distill parameters, doing the same work:
backward simulation to the student step k (k no-grad student forwards, then one with
gradient), the generator loss (CA + DM terms, DMD2 normalisation, the three teacher calls
batched in one forward, the fake score's no-grad forward and the monitored values read back),
AdamW with gradient clipping, then `fake_updates` flow-matching updates of the fake score, each
on a *fresh* no-grad student sample with its own k (as ours: backward simulation + x0).

Same work, same data: `--share DIR` loads what `bench_steps` (BENCH_SHARE=DIR) wrote, our
teacher's weights, its spec and the prompts; `--ks k,k,..` (or BENCH_KS) gives the k of every
student sample in order, warm-up included, 1 + fake_updates per iteration, as ours takes them.
Without --share it builds a mirror with random weights and random prompts; without --ks it
draws k at random.

Usage: dmd_step.py --schedule hybrid --batch 32 --iters 10 [--widths 32,64] [--share DIR]
       [--ks k,k,..]
Prints one JSON line: {"params": N, "threads": T, "median_ms": .., "mean_ms": ..,
"times_ms": [..], "ks": [..]} (ks: the k used, in order, warm-up included).
It measures speed only; numerical parity of the loss with our step is tested elsewhere
(crates/science/tests/parity.rs with python/ref_dmd.py).
"""
import argparse
import json
import os
import time

import torch
import torch.nn.functional as F

from unet_mirror import MAX_TOKENS, VOCAB, Unet, load_ours, read_safetensors, unet_from_spec

WARMUP = 2  # as bench_distill_step (BENCH_WARMUP)


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

    def __init__(self, teacher, make_net, schedule, steps=4, fake_updates=5, alpha=4.0,
                 norm_eps=1e-4, clip=1.0, lr=1e-5, ks=None):
        self.teacher = teacher.requires_grad_(False)
        self.student = make_net()
        self.student.load_state_dict(teacher.state_dict())
        self.fake = make_net()
        self.fake.load_state_dict(teacher.state_dict())
        self.opt_g = torch.optim.AdamW(self.student.parameters(), lr=lr, weight_decay=0.0)
        self.opt_f = torch.optim.AdamW(self.fake.parameters(), lr=lr, weight_decay=0.0)
        self.schedule, self.steps, self.fake_updates = schedule, steps, fake_updates
        self.alpha, self.norm_eps, self.clip = alpha, norm_eps, clip
        self.ks = list(ks) if ks is not None else None
        self.used = []

    def next_k(self):
        """step.rs next_k: the given sequence's next entry, or uniform over 0..steps."""
        n = self.steps
        if self.ks is not None:
            if not self.ks:
                raise RuntimeError("the given sequence of student steps k is used up")
            k = self.ks.pop(0)
            if k >= n:
                raise RuntimeError(f"given student step k = {k} is not below steps = {n}")
        else:
            k = int(torch.randint(n, (1,)).item()) if n > 1 else 0
        self.used.append(k)
        return k

    def student_sample(self, tokens, shape):
        """step.rs student_sample: backward simulation to k, then the x0 prediction there
        (with gradient unless the caller is in no_grad)."""
        b, n = tokens.shape[0], self.steps
        k = self.next_k()
        x = torch.randn(shape)
        with torch.no_grad():  # flow.rs backward_simulate
            for j in range(k):
                tj = torch.full((b,), j / n)
                x0 = x0_from_v(x, tj, self.student(x, tj, tokens))
                x = renoise(x0, torch.randn(shape), torch.full((b,), (j + 1) / n))
        t = k / n
        tv = torch.full((b,), t)
        return x0_from_v(x, tv, self.student(x, tv, tokens)), t

    def step(self, tokens, res):
        b = tokens.shape[0]
        shape = (b, 3, res, res)
        xs, t = self.student_sample(tokens, shape)
        sg = xs.detach()
        tau_ca, tau_dm, eps_ca, eps_dm = draw(self.schedule, t, b, shape)
        x_ca, x_dm = renoise(sg, eps_ca, tau_ca), renoise(sg, eps_dm, tau_dm)
        with torch.no_grad():  # loss.rs teacher_calls, batched
            v = self.teacher(torch.cat([x_ca, x_ca, x_dm]), torch.cat([tau_ca, tau_ca, tau_dm]),
                             torch.cat([tokens, torch.zeros_like(tokens), tokens]))
            vc, vu, vr = v.chunk(3)
            rc, ru, r = (x0_from_v(x_ca, tau_ca, vc), x0_from_v(x_ca, tau_ca, vu),
                         x0_from_v(x_dm, tau_dm, vr))
        loss = xs.sum() * 0.0
        with torch.no_grad():
            d_ca = torch.nan_to_num((rc - ru) * (self.alpha - 1) / norm_weight(sg, rc, self.norm_eps),
                                    0.0, 0.0, 0.0)
        l_ca = pull(xs, d_ca)
        l_ca.item(), d_ca.abs().mean().item()  # loss.rs reads both back every iteration
        loss = loss + l_ca * 1.0
        with torch.no_grad():
            vf = self.fake(x_dm, tau_dm, tokens)
            f = x0_from_v(x_dm, tau_dm, vf)
            d_dm = torch.nan_to_num((r - f) / norm_weight(sg, r, self.norm_eps), 0.0, 0.0, 0.0)
            F.cosine_similarity(vr.flatten(1), vf.flatten(1), 1, 1e-8).mean().item()
        l_dm = pull(xs, d_dm)
        l_dm.item(), d_dm.abs().mean().item()
        loss = loss + l_dm * 1.0
        self.opt_g.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.student.parameters(), self.clip)
        self.opt_g.step()
        loss.item()
        for _ in range(self.fake_updates):
            with torch.no_grad():  # a fresh student sample per update, as step.rs
                sample = self.student_sample(tokens, shape)[0].detach()
            tau = torch.rand(b) * 0.96 + 0.02
            eps = torch.randn(shape)
            vf = self.fake(renoise(sample, eps, tau), tau, tokens)
            lf = (vf - (sample - eps)).square().mean()
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
    ap.add_argument("--share", help="folder bench_steps wrote with BENCH_SHARE: teacher weights, "
                                    "spec, prompts")
    ap.add_argument("--ks", default=os.environ.get("BENCH_KS"),
                    help="k of every student sample in order, warm-up included (default: "
                         "$BENCH_KS; none: random)")
    a = ap.parse_args()
    torch.manual_seed(0)
    if a.share:
        with open(os.path.join(a.share, "spec.json")) as f:
            spec = json.load(f)

        def make_net():
            return unet_from_spec(spec)

        teacher = load_ours(make_net(), read_safetensors(os.path.join(a.share, "teacher.safetensors")))
        tokens = read_safetensors(os.path.join(a.share, "tokens.safetensors"))["tokens"]
        if tokens.shape[0] != a.batch:
            raise SystemExit(f"--batch {a.batch} but the shared prompts have {tokens.shape[0]} rows")
        res = spec["resolution"]
    else:
        cfg = dict(resolution=a.resolution, widths=[int(w) for w in a.widths.split(",")])

        def make_net():
            return Unet(**cfg)

        teacher = make_net()
        tokens = prompts(a.batch, torch.Generator().manual_seed(1))
        res = a.resolution
    ks = [int(k) for k in a.ks.split(",")] if a.ks else None
    d = Distiller(teacher, make_net, a.schedule, ks=ks)
    times = []
    for i in range(a.iters + WARMUP):
        t0 = time.perf_counter()
        d.step(tokens, res)
        if i >= WARMUP:
            times.append((time.perf_counter() - t0) * 1e3)
    s = sorted(times)
    print(json.dumps({
        "params": sum(p.numel() for p in teacher.parameters()),
        "threads": torch.get_num_threads(),
        "median_ms": s[len(s) // 2],
        "mean_ms": sum(times) / len(times),
        "times_ms": times,
        "ks": d.used,
    }))


if __name__ == "__main__":
    main()
