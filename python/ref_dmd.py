"""Reference Decoupled-DMD generator step in plain PyTorch, for the parity test of the Rust
trainer (crates/science/tests/parity.rs).

Usage: ref_dmd.py OUT_DIR
Writes tiny TorchScript networks (teacher, fake, student), the inputs of every case and the
expected loss values and updated student parameters (one AdamW step after gradient clipping),
computed here independently of the Rust code, following the seed's step (section 6) with the
DMD2 per-sample normalisation and the schedules / regularisers of DESIGN section 9.
"""
import json
import os
import struct
import sys

import torch
import torch.nn.functional as F

B, R, L, VOCAB = 4, 8, 6, 32
ALPHA, NORM_EPS, LR, CLIP = 4.0, 1e-4, 1e-2, 0.05


class Tiny(torch.nn.Module):
    """(x, tau, tokens) -> v, with prompt and time conditioning."""

    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(VOCAB, 8)
        self.conv1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.time = torch.nn.Linear(1, 8)
        self.conv2 = torch.nn.Conv2d(8, 3, 3, padding=1)

    def forward(self, x, tau, tokens):
        mask = (tokens != 0).float().unsqueeze(-1)
        c = (self.emb(tokens) * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        h = self.conv1(x) + self.time(tau.unsqueeze(1))[:, :, None, None] + c[:, :, None, None]
        return self.conv2(torch.tanh(h))


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        dtype = {torch.float32: "F32", torch.int64: "I64"}[t.dtype]
        data = t.numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def x0_pred(net, x, tau, tokens):
    return x + (1 - tau)[:, None, None, None] * net(x, tau, tokens)


def kl_meanvar(x, data):
    # Each image against the render of its own prompt (data[i] is image i's prompt), per channel.
    ms, vs = x.mean(dim=(2, 3)), x.var(dim=(2, 3), unbiased=False).clamp(min=1e-6)
    md, vd = data.mean(dim=(2, 3)), data.var(dim=(2, 3), unbiased=False).clamp(min=1e-6)
    return (0.5 * (torch.log(vd / vs) + (vs + (ms - md) ** 2) / vd - 1)).mean()


def step(nets, inp, case, original_dmd=False):
    teacher, fake, student = nets
    tokens = inp["tokens"]
    t = torch.full((B,), case["t"])
    x = x0_pred(student, inp["x_t"], t, tokens)  # the student G: an x0 prediction
    xs = x.detach()
    tca, tdm = inp[case["tau_ca"]], inp[case["tau_dm"]]
    eca, edm = inp[case["eps_ca"]], inp[case["eps_dm"]]
    x_ca = tca[:, None, None, None] * xs + (1 - tca[:, None, None, None]) * eca
    x_dm = tdm[:, None, None, None] * xs + (1 - tdm[:, None, None, None]) * edm
    with torch.no_grad():
        rc = x0_pred(teacher, x_ca, tca, tokens)
        ru = x0_pred(teacher, x_ca, tca, torch.zeros_like(tokens))
        r = x0_pred(teacher, x_dm, tdm, tokens)
        f = x0_pred(fake, x_dm, tdm, tokens)
        w_ca = (xs - rc).abs().mean(dim=(1, 2, 3), keepdim=True) + NORM_EPS
        w_dm = (xs - r).abs().mean(dim=(1, 2, 3), keepdim=True) + NORM_EPS
        d_ca = (ALPHA - 1) * (rc - ru) / w_ca
        d_dm = (r - f) / w_dm
    if original_dmd:
        # Original DMD with the CFG teacher score: one pull toward s_cfg - s_fake.
        with torch.no_grad():
            r_cfg = ru + ALPHA * (rc - ru)
            d = (r_cfg - f) / w_ca
        loss = 0.5 * F.mse_loss(x, (xs + d).detach())
        return loss, {}
    loss_ca = 0.5 * F.mse_loss(x, (xs + d_ca).detach())
    loss_dm = 0.5 * F.mse_loss(x, (xs + d_dm).detach())
    loss = case["ca"] * loss_ca
    parts = {"loss_ca": loss_ca.item()}
    if case["reg"] == "dm":
        loss = loss + case["dm"] * loss_dm
        parts["loss_dm"] = loss_dm.item()
    elif case["reg"] == "meanvar":
        kl = kl_meanvar(x, inp["data"])
        loss = loss + case["dm"] * kl
        parts["loss_dm"] = kl.item()
    return loss, parts


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    teacher = Tiny()
    fake = Tiny()
    fake.load_state_dict(teacher.state_dict())
    student = Tiny()
    student.load_state_dict(teacher.state_dict())
    with torch.no_grad():
        for p in fake.parameters():
            p.add_(0.1 * torch.randn_like(p))
        for p in student.parameters():
            p.add_(0.05 * torch.randn_like(p))
    for name, m in [("teacher", teacher), ("fake", fake), ("student", student)]:
        torch.jit.script(m).save(os.path.join(out, f"{name}.pt"))
    initial = {k: v.clone() for k, v in student.state_dict().items()}

    t = 0.25
    tokens = torch.randint(1, VOCAB, (B, L))
    tokens[:, 4:] = 0
    tokens[1, 2:] = 0
    inp = {
        "tokens": tokens,
        "x_t": torch.randn(B, 3, R, R),
        "eps1": torch.randn(B, 3, R, R),
        "eps2": torch.randn(B, 3, R, R),
        "data": torch.rand(B, 3, R, R) * 2 - 1,
        # coupled: one tau in (0,1); hybrid: tau_ca in (t,1], tau_dm in (0,1); constrained: both (t,1].
        "tau_shared": torch.rand(B) * 0.96 + 0.02,
        "tau_above1": t + (1 - t) * (1 - torch.rand(B)) * 0.97,
        "tau_above2": t + (1 - t) * (1 - torch.rand(B)) * 0.97,
        "tau_any": torch.rand(B) * 0.96 + 0.02,
        # One fake-score update: student samples, their noise and levels over the whole range.
        "fake_x": (torch.randn(B, 3, R, R) * 0.5).clamp(-1, 1),
        "fake_eps": torch.randn(B, 3, R, R),
        "fake_tau": torch.rand(B) * 0.96 + 0.02,
    }
    write_safetensors(os.path.join(out, "inputs.safetensors"), inp)

    levels = {
        "coupled": ("tau_shared", "tau_shared", "eps1", "eps1"),
        "hybrid": ("tau_above1", "tau_any", "eps1", "eps2"),
        "constrained": ("tau_above1", "tau_above2", "eps1", "eps2"),
    }
    cases = []
    for schedule in ["coupled", "hybrid", "constrained"]:
        for reg in ["dm", "meanvar", "none"]:
            cases.append({"schedule": schedule, "reg": reg, "ca": 1.0, "dm": 1.0})
    cases.append({"schedule": "hybrid", "reg": "dm", "ca": 1.0, "dm": 0.0})
    cases.append({"schedule": "hybrid", "reg": "dm", "ca": 0.0, "dm": 1.0})
    cases.append({"schedule": "coupled", "reg": "dm", "ca": 1.0, "dm": 1.0, "original_dmd": True})
    expected = {}
    for i, case in enumerate(cases):
        case["name"] = f"case{i}"
        case["t"] = t
        case["tau_ca"], case["tau_dm"], case["eps_ca"], case["eps_dm"] = levels[case["schedule"]]
        student.load_state_dict(initial)
        opt = torch.optim.AdamW(student.parameters(), lr=LR)
        loss, parts = step((teacher, fake, student), inp, case, case.get("original_dmd", False))
        opt.zero_grad()
        loss.backward()
        for name, p in student.named_parameters():
            expected[f"{case['name']}.grad.{name.replace('.', '_')}"] = p.grad.detach().clone()
        torch.nn.utils.clip_grad_norm_(student.parameters(), CLIP)
        opt.step()
        case["loss"] = loss.item()
        case.update(parts)
        for name, p in student.named_parameters():
            expected[f"{case['name']}.{name.replace('.', '_')}"] = p.detach().clone()
    # The fake score's flow-matching update: v = fake(x_tau), target x0 - eps, MSE; clipped,
    # one AdamW step.
    x, eps, tau = inp["fake_x"], inp["fake_eps"], inp["fake_tau"]
    opt = torch.optim.AdamW(fake.parameters(), lr=LR)
    x_tau = tau[:, None, None, None] * x + (1 - tau[:, None, None, None]) * eps
    fake_loss = ((fake(x_tau, tau, tokens) - (x - eps)) ** 2).mean()
    opt.zero_grad()
    fake_loss.backward()
    torch.nn.utils.clip_grad_norm_(fake.parameters(), CLIP)
    opt.step()
    for name, p in fake.named_parameters():
        expected[f"fake_update.{name.replace('.', '_')}"] = p.detach().clone()
    write_safetensors(os.path.join(out, "expected.safetensors"), expected)
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump({"alpha": ALPHA, "norm_eps": NORM_EPS, "lr": LR, "clip": CLIP, "cases": cases,
                   "fake_loss": fake_loss.item()}, f, indent=1)


if __name__ == "__main__":
    main()
