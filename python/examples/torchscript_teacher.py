"""A teacher written in PyTorch for the shapes world, exported to TorchScript for the built-in
`distill` stage (`params: {teacher: {torchscript: PATH}}`).

Usage: torchscript_teacher.py --out teacher.pt [--resolution 16] [--seed 0] [--train-steps 0]

The module has the call every network of the trainer has (crates/science/src/nets/mod.rs):

    forward(x [B,3,R,R] f32, tau [B] f32, tokens [B,L] i64) -> v [B,3,R,R] f32

x is the noisy image at time tau (tau = 1 is data, tau = 0 noise; x_tau = tau * x1 + (1 - tau) * x0),
tokens are the prompt's ids in the shapes vocabulary (crates/science/src/data/vocab.rs: 27 ids,
0 = padding, so an all-zero row is the unconditional prompt used by CFG) and v is the velocity
x1 - x0. The network is fully convolutional, so any R works; the resolution only sizes the
optional fitting below. The data config (resolution, objects) of the distill run comes from its
`data` params, since a TorchScript file carries none.

--train-steps N fits the network for N Adam steps to a stand-in target (flat coloured images
whose colour is a function of the prompt): enough to make it a conditional network that depends
on its input, not a teacher of the shapes world. A real teacher would be trained on renders.
"""
import argparse
import math
import os

import torch
import torch.nn.functional as F

# Larger than the shapes vocabulary (27 ids) so users' own ids fit too.
VOCAB = 64
MAX_TOKENS = 48


class Teacher(torch.nn.Module):
    """Conv net conditioned on a mean-pooled token embedding and a sinusoidal tau embedding."""

    def __init__(self, width: int = 32, emb: int = 32):
        super().__init__()
        self.emb_dim = emb
        self.tokens = torch.nn.Embedding(VOCAB, emb, padding_idx=0)
        self.time = torch.nn.Sequential(
            torch.nn.Linear(emb, emb), torch.nn.SiLU(), torch.nn.Linear(emb, emb)
        )
        self.cond = torch.nn.Linear(2 * emb, 2 * width)
        self.inp = torch.nn.Conv2d(3, width, 3, padding=1)
        self.mid1 = torch.nn.Conv2d(width, width, 3, padding=1)
        self.mid2 = torch.nn.Conv2d(width, width, 3, padding=1)
        self.out = torch.nn.Conv2d(width, 3, 3, padding=1)
        self.norm1 = torch.nn.GroupNorm(8, width)
        self.norm2 = torch.nn.GroupNorm(8, width)

    def tau_embedding(self, tau: torch.Tensor) -> torch.Tensor:
        half = self.emb_dim // 2
        freqs = torch.exp(
            -math.log(1000.0) * torch.arange(half, dtype=torch.float32, device=tau.device) / half
        )
        a = tau.float()[:, None] * 1000.0 * freqs[None, :]
        return torch.cat([torch.sin(a), torch.cos(a)], dim=1)

    def forward(self, x: torch.Tensor, tau: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        mask = (tokens != 0).float().unsqueeze(-1)
        c = (self.tokens(tokens) * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        t = self.time(self.tau_embedding(tau))
        scale, shift = self.cond(torch.cat([c, t], dim=1)).chunk(2, dim=1)
        h = self.inp(x)
        h = self.norm1(F.silu(self.mid1(h))) * (1.0 + scale[:, :, None, None]) + shift[:, :, None, None]
        h = h + self.norm2(F.silu(self.mid2(h)))
        return self.out(F.silu(h))


def stand_in_batch(gen: torch.Generator, batch: int, resolution: int):
    """Prompts of random ids and flat images whose colour follows the prompt's ids."""
    lengths = torch.randint(1, 9, (batch,), generator=gen)
    tokens = torch.randint(2, 27, (batch, MAX_TOKENS), generator=gen)
    tokens[torch.arange(MAX_TOKENS)[None, :] >= lengths[:, None]] = 0
    first = tokens[:, 0].float()
    colour = torch.stack(
        [torch.sin(first), torch.cos(first), torch.sin(2.0 * first)], dim=1
    ) * 0.8
    x1 = colour[:, :, None, None].expand(batch, 3, resolution, resolution).contiguous()
    return x1, tokens


def fit(net: Teacher, steps: int, resolution: int, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(steps):
        x1, tokens = stand_in_batch(gen, 16, resolution)
        x0 = torch.randn(x1.shape, generator=gen)
        tau = torch.rand(x1.shape[0], generator=gen)
        xt = tau[:, None, None, None] * x1 + (1 - tau[:, None, None, None]) * x0
        loss = F.mse_loss(net(xt, tau, tokens), x1 - x0)
        opt.zero_grad()
        loss.backward()
        opt.step()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="where to write the TorchScript file (.pt)")
    ap.add_argument("--resolution", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train-steps", type=int, default=0)
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    net = Teacher()
    if args.train_steps > 0:
        fit(net, args.train_steps, args.resolution, args.seed)
    net.eval()

    scripted = torch.jit.script(net)
    # The call the distill stage makes, checked before saving: shape in = shape out.
    r = args.resolution
    x = torch.randn(2, 3, r, r)
    tau = torch.tensor([0.25, 0.75])
    tokens = torch.zeros(2, MAX_TOKENS, dtype=torch.int64)
    tokens[0, :3] = torch.tensor([2, 15, 26])
    with torch.no_grad():
        v = scripted(x, tau, tokens)
    assert v.shape == x.shape and v.dtype == torch.float32, (v.shape, v.dtype)

    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    scripted.save(args.out)
    params = sum(p.numel() for p in net.parameters())
    print(f"wrote {args.out}: {params} parameters, resolution {r}, seed {args.seed}")


if __name__ == "__main__":
    main()
