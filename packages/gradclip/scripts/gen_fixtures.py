#!/usr/bin/env python3
"""Golden fixtures for gradclip's stateless rules, computed with PyTorch.

Run with Debian's python3-torch (PyTorch 1.13):
    /usr/bin/python3 packages/gradclip/scripts/gen_fixtures.py
It writes packages/gradclip/test/fixtures/core.json, which the tests compare against.

Each case is a set of gradient tensors (float32 or float64, sizes 0..~200, scales 1e-4..1e4,
sometimes with NaN / ±inf entries) and the results of
  - torch.nn.utils.clip_grad_norm_(…, max_norm, norm_type) for norm types 2, 1, inf, 0.5,
    1.5, 3, 4 and max_norm below, near and above the norm, and 0;
  - torch.nn.utils.clip_grad_value_(…, clip_value);
  - per-tensor clipping t * c / max(‖t‖₂, c) (TF clip_by_norm / Keras clipnorm), evaluated in
    float64 and rounded to the tensor's dtype.
Numbers are written with the shortest repr that round-trips in the tensor's dtype; NaN and
±Infinity as the strings "NaN", "Infinity", "-Infinity".
"""
import json
import math
import os
import sys

import numpy as np
import torch

SEED = 20261127
P_VALUES = [2.0, 1.0, math.inf, 0.5, 1.5, 3.0, 4.0]
OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'core.json')


def enc(x, dtype):
    if math.isnan(x):
        return 'NaN'
    if math.isinf(x):
        return 'Infinity' if x > 0 else '-Infinity'
    if dtype == 'float32':
        return float(repr(np.float32(x)))  # shortest float32 round-trip repr
    return x


def enc_tensor(t):
    dtype = 'float32' if t.dtype == torch.float32 else 'float64'
    return [enc(v, dtype) for v in t.reshape(-1).tolist()]


def make_set(rng, dtype, n_tensors, nonfinite):
    tensors = []
    for _ in range(n_tensors):
        size = int(rng.choice([0, 1, 3, 7, 16, 33, 64, 129, 200]))
        scale = 10.0 ** rng.uniform(-4, 4)
        t = torch.tensor(rng.standard_normal(size) * scale, dtype=dtype)
        tensors.append(t)
    if nonfinite and sum(t.numel() for t in tensors) > 0:
        nonempty = [t for t in tensors if t.numel() > 0]
        for kind in nonfinite:
            t = nonempty[int(rng.integers(len(nonempty)))]
            t[int(rng.integers(t.numel()))] = {'nan': math.nan, 'inf': math.inf, '-inf': -math.inf}[kind]
    return tensors


def torch_clip_global(tensors, max_norm, p):
    params = []
    for t in tensors:
        w = torch.zeros_like(t, requires_grad=True)
        w.grad = t.clone()
        params.append(w)
    # PyTorch 1.13 raises on zero-size tensors for norm_type=inf (max of an empty tensor);
    # they hold no values, so leaving them out gives the same norm and the same outputs.
    norm = torch.nn.utils.clip_grad_norm_([w for w in params if w.numel() > 0], max_norm, norm_type=p)
    return float(norm), [w.grad for w in params]


def torch_clip_value(tensors, c):
    params = []
    for t in tensors:
        w = torch.zeros_like(t, requires_grad=True)
        w.grad = t.clone()
        params.append(w)
    torch.nn.utils.clip_grad_value_(params, c)
    return [w.grad for w in params]


def per_tensor(tensors, c):
    out = []
    for t in tensors:
        d = t.double()
        n = float(torch.linalg.vector_norm(d, 2)) if t.numel() else 0.0
        denom = max(n, c) if not math.isnan(n) else math.nan
        out.append((d * c / denom).to(t.dtype) if denom != 0 else t.clone())
    return out


def exact_norm(tensors, p):
    """Float64 reference: the norm of the set computed from float64 copies."""
    if not tensors or sum(t.numel() for t in tensors) == 0:
        return 0.0
    flat = torch.cat([t.double().reshape(-1) for t in tensors])
    return float(torch.linalg.vector_norm(flat, p))


def main():
    rng = np.random.default_rng(SEED)
    torch.manual_seed(SEED)
    cases = []
    configs = []
    for i in range(42):
        dtype = torch.float32 if i % 3 != 2 else torch.float64
        n_tensors = [1, 2, 3, 5][i % 4]
        nonfinite = []
        if i % 7 == 5:
            nonfinite = ['nan']
        elif i % 7 == 6:
            nonfinite = [['inf'], ['-inf'], ['inf', '-inf']][i % 3]
        configs.append((dtype, n_tensors, nonfinite))
    configs.append((torch.float32, 0, []))  # the empty set
    configs.append((torch.float64, 2, []))  # zero-size tensors only, forced below

    for ci, (dtype, n_tensors, nonfinite) in enumerate(configs):
        tensors = make_set(rng, dtype, n_tensors, nonfinite)
        if ci == len(configs) - 1:
            tensors = [torch.zeros(0, dtype=dtype), torch.zeros(0, dtype=dtype)]
        # Each set is checked with two norm types so that all seven are covered six times.
        ps = [P_VALUES[ci % 7], P_VALUES[(ci * 3 + 1) % 7]]
        global_results = []
        for p in ps:
            base = exact_norm(tensors, p)
            finite_base = base if math.isfinite(base) and base > 0 else 1.0
            for factor in [0.0, 0.25, 1.0 - 1e-9, 1.0, 4.0]:
                max_norm = 0.0 if factor == 0.0 else finite_base * factor
                norm, out = torch_clip_global(tensors, max_norm, p)
                global_results.append({
                    'normType': 'Infinity' if math.isinf(p) else p,
                    'maxNorm': max_norm,
                    'norm': enc(norm, 'float64'),
                    'exactNorm': enc(base, 'float64'),
                    'grads': [enc_tensor(t) for t in out],
                })
        l2 = exact_norm(tensors, 2)
        c_ref = l2 / math.sqrt(max(1, len(tensors))) if math.isfinite(l2) and l2 > 0 else 1.0
        value_c = (max((float(t.abs().nan_to_num(0, 0, 0).max()) for t in tensors if t.numel()), default=1.0) or 1.0) * 0.3
        cases.append({
            'dtype': 'float32' if dtype == torch.float32 else 'float64',
            'grads': [enc_tensor(t) for t in tensors],
            'globalNorm': global_results,
            'value': {'clipValue': value_c, 'grads': [enc_tensor(t) for t in torch_clip_value(tensors, value_c)]},
            'perTensor': [
                {'maxNorm': c, 'grads': [enc_tensor(t) for t in per_tensor(tensors, c)]}
                for c in [0.0, c_ref * 0.5, c_ref * 2.0]
            ],
        })

    doc = {
        'generator': 'packages/gradclip/scripts/gen_fixtures.py',
        'torch': torch.__version__,
        'seed': SEED,
        'cases': cases,
    }
    with open(OUT, 'w') as f:
        json.dump(doc, f, separators=(',', ':'))
    print(f'wrote {len(cases)} cases to {os.path.normpath(OUT)} ({os.path.getsize(OUT) // 1024} KiB)', file=sys.stderr)


if __name__ == '__main__':
    main()
