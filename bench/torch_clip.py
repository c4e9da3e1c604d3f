"""PyTorch peer for `npm run bench` (run with Debian's /usr/bin/python3 + python3-torch).

usage: torch_clip.py <op: global|value|pertensor> <total> <tensors> <budget ms> <max reps> <threshold> [threads]
Warm-up and repetitions as in bench/c/clip.c; prints one JSON object like it. `global` is torch.nn.utils.clip_grad_norm_,
`value` is clip_grad_value_, `pertensor` calls clip_grad_norm_ on each tensor on its own
(PyTorch has no per-tensor rule). Same deterministic data as bench/data.mjs.
"""
import json
import resource
import sys
import time

import numpy as np
import torch


def values(t, n):
    i = np.arange(n, dtype=np.uint32)
    h = i * np.uint32(2654435761) + np.uint32((t * 40503 + 12345) & 0xFFFFFFFF)
    return (((h >> np.uint32(8)).astype(np.int64) - 8388608).astype(np.float32) / np.float32(8388608.0))


def main():
    op, total, tensors = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    budget, max_reps, thr = float(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
    if len(sys.argv) > 7:  # else PyTorch's own default (Debian's build picks 1 thread on 2 cores)
        torch.set_num_threads(int(sys.argv[7]))
    per = total // tensors
    src = [torch.from_numpy(values(t, per)) for t in range(tensors)]
    params = [torch.nn.Parameter(torch.zeros(per)) for _ in range(tensors)]
    for p in params:
        p.grad = torch.empty(per)
    times, norm, reps, r = [], None, 1, -1
    while r < reps:
        with torch.no_grad():
            for p, s in zip(params, src):
                p.grad.copy_(s)
        t0 = time.perf_counter()
        if op == 'global':
            norm = float(torch.nn.utils.clip_grad_norm_(params, thr))
        elif op == 'value':
            torch.nn.utils.clip_grad_value_(params, thr)
        else:
            for p in params:
                torch.nn.utils.clip_grad_norm_([p], thr)
        dt = (time.perf_counter() - t0) * 1e3
        if r < 0:
            reps = max(3, min(max_reps, int(budget / max(dt, 1e-6))))
        else:
            times.append(dt)
        r += 1
    g = torch.cat([p.grad for p in params]).double()
    print(json.dumps({
        'times': times, 'norm': norm, 'sum': float(g.sum()), 'sumAbs': float(g.abs().sum()),
        'first': float(params[0].grad[0]), 'last': float(params[-1].grad[-1]),
        'maxRssKB': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        'threads': torch.get_num_threads(), 'torch': torch.__version__,
    }))


if __name__ == '__main__':
    main()
