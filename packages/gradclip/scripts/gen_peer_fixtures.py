#!/usr/bin/env python3
"""Expected numbers for the peer suites in packages/gradclip/test/peers/ that upstream does not
state as literals (upstream compares against its own op there).

Run with Debian's python3-torch (PyTorch 1.13) and python3-numpy:
    /usr/bin/python3 packages/gradclip/scripts/gen_peer_fixtures.py
It writes packages/gradclip/test/fixtures/peers/peers.json:

  pytorch_clip_grad_norm  PyTorch test/test_nn.py `test_clip_grad_norm`: the gradients of an
                          nn.Linear(10, 10) set to arange(1, 101).view(10, 10) (weight) and
                          ones(10) / 1000 (bias), float32, clipped by
                          torch.nn.utils.clip_grad_norm_(…, max_norm=2, norm_type=p) for the
                          upstream norm types; the returned norm and the clipped gradients.
  timm_agc                timm `timm/utils/agc.py` (`adaptive_clip_grad`) reference runs. The
                          expected gradients come from a re-implementation of the AGC rule
                          written here with torch ops (per output unit, axis 0 of a PyTorch
                          weight: limit = clip_factor · max(‖W_u‖, eps); G_u scaled by
                          limit / max(‖G_u‖, 1e-6) unless ‖G_u‖ < limit); timm itself is not
                          installed on this machine.

Numbers are written with the shortest repr that round-trips in float32; NaN and ±Infinity as
strings.
"""
import json
import math
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'peers', 'peers.json')


def f32(x):
    if math.isnan(x):
        return 'NaN'
    if math.isinf(x):
        return 'Infinity' if x > 0 else '-Infinity'
    return float(repr(np.float32(x)))


def flat(t):
    return [f32(v) for v in t.detach().reshape(-1).tolist()]


def pytorch_clip_grad_norm():
    cases = []
    for p in [0.5, 1.5, 2.0, 4.0, math.inf]:
        w = torch.zeros(10, 10, requires_grad=True)
        b = torch.zeros(10, requires_grad=True)
        w.grad = torch.arange(1.0, 101.0).view(10, 10)
        b.grad = torch.ones(10) / 1000
        norm = torch.nn.utils.clip_grad_norm_([w, b], 2.0, norm_type=p)
        cases.append({
            'normType': 'Infinity' if math.isinf(p) else p,
            'maxNorm': 2,
            'norm': f32(float(norm)),
            'weight': flat(w.grad),
            'bias': flat(b.grad),
        })
    return cases


def agc_reference(params, grads, clip_factor, eps):
    """AGC over PyTorch-layout tensors (units along axis 0), the rule timm's adaptive_clip_grad applies."""
    out = []
    for p, g in zip(params, grads):
        if p.dim() <= 1:
            p_norm = p.norm(2)
            g_norm = g.norm(2)
        else:
            dims = list(range(1, p.dim()))
            p_norm = p.norm(2, dim=dims, keepdim=True)
            g_norm = g.norm(2, dim=dims, keepdim=True)
        limit = torch.clamp(p_norm, min=eps) * clip_factor
        factor = limit / torch.clamp(g_norm, min=1e-6)
        out.append(torch.where(g_norm < limit, g, g * factor))
    return out


def timm_agc():
    gen = torch.Generator().manual_seed(20261129)

    def randn(*shape, scale=1.0):
        return torch.randn(*shape, generator=gen, dtype=torch.float32) * scale

    runs = []

    def add(name, clip_factor, eps, params, grads):
        expected = agc_reference(params, grads, clip_factor, eps)
        runs.append({
            'name': name,
            'clipFactor': clip_factor,
            'eps': eps,
            'tensors': [
                {'shape': list(p.shape), 'param': flat(p), 'grad': flat(g), 'expected': flat(e)}
                for p, g, e in zip(params, grads, expected)
            ],
        })

    # nn.Linear(3, 4): weight [out, in], bias [out]; gradients far above 1 % of the weights.
    add('linear weight and bias, default clip_factor 0.01', 0.01, 1e-3,
        [randn(4, 3), randn(4)], [randn(4, 3, scale=10.0), randn(4, scale=10.0)])
    # nn.Conv2d(3, 2, 3): weight OIHW.
    add('conv2d weight OIHW, clip_factor 0.05', 0.05, 1e-3,
        [randn(2, 3, 3, 3)], [randn(2, 3, 3, 3, scale=5.0)])
    # Some output units clipped, some not: per-unit decision.
    w = randn(5, 4)
    g = randn(5, 4, scale=0.01)
    g[1] *= 1000.0
    g[3] *= 1000.0
    add('linear weight with only some units over the limit', 0.1, 1e-3, [w], [g])
    # Zero-initialised weights: the limit is clip_factor · eps.
    add('zero-initialised weight and bias (eps floor)', 0.01, 1e-3,
        [torch.zeros(3, 2), torch.zeros(3)], [randn(3, 2), randn(3)])
    # Gradients below the limit are returned unchanged.
    add('small gradients are left unchanged', 0.01, 1e-3,
        [randn(4, 3, scale=10.0), randn(4, scale=10.0)], [randn(4, 3, scale=1e-4), randn(4, scale=1e-4)])
    # A larger eps.
    add('tiny weights with eps 0.1', 0.02, 0.1,
        [randn(3, 3, scale=1e-3)], [randn(3, 3)])
    return runs


def main():
    data = {
        'torch': torch.__version__,
        'numpy': np.__version__,
        'pytorch_clip_grad_norm': pytorch_clip_grad_norm(),
        'timm_agc': timm_agc(),
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, 'w') as f:
        json.dump(data, f, indent=1)
        f.write('\n')
    print('wrote', os.path.relpath(OUT))


if __name__ == '__main__':
    main()
