#!/usr/bin/env python3
"""A multi-process job for `{{ launch }}` (torchrun): every rank joins a torch.distributed
process group (gloo on CPU, nccl on GPUs), all-reduces its rank + 1 a few times and logs the
sum. Only rank 0's metric is recorded; `ranks_seen` is logged from every rank (per-rank keys).

  run: "{{ launch }} python/examples/ddp_allreduce.py --steps 3"
"""
import argparse
import os
import sys

import torch
import torch.distributed as dist

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import ddmd_events as ev  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=3)
    a = ap.parse_args()
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend)
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0))) if backend == "nccl" else torch.device("cpu")
    print(f"rank {rank}/{world} on {device}, master {os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']}", flush=True)
    if rank == 0:
        print(f"ddmd world size {os.environ.get('DDMD_WORLD_SIZE')}, {os.environ.get('NPROC_PER_NODE')} per node", flush=True)
    for step in range(a.steps):
        t = torch.tensor([float(rank + 1)], device=device)
        dist.all_reduce(t)
        # Every rank logs; only rank 0's line is written.
        ev.metric("allreduce_sum", t.item(), step)
    ev.metric("ranks_seen", world, 0, all_ranks=True)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
