#!/usr/bin/env python3
"""Golden fixtures for gradclip's adaptive clippers (AGC, AutoClip, ZClip, AdaGC).

Run with Debian's python3-torch (PyTorch 1.13) and NumPy:
    /usr/bin/python3 packages/gradclip/scripts/gen_adaptive_fixtures.py
It writes packages/gradclip/test/fixtures/adaptive/{agc,auto_clip,z_clip,ada_gc}.json.

  - AGC: optax's `adaptive_grad_clip` formula in NumPy for layout 'tf' (unit norms over
    axis 0 for rank 2-3, axes 0..rank-2 for rank 4-5, the whole tensor for rank <= 1) and
    timm's `adaptive_clip_grad` formula in PyTorch for layout 'torch' (every axis but 0).
  - AutoClip: history of total norms, threshold numpy.percentile (linear), then
    torch.nn.utils.clip_grad_norm_(grads, threshold).
  - ZClip: a line-by-line transcription of bluorion-com/ZClip's `ZClip.step` (buffer
    warm-up, EMA update with the clipped value, percentile mode as DESIGN.md §4 pins it),
    clipping with PyTorch's clip_grad_norm_ during warm-up and its in-place coefficient after.
  - AdaGC: the published per-tensor algorithm (Wang et al. 2025) transcribed directly.

Every sequence has >= 120 steps of float64 gradients with spikes and a few NaN / inf steps.
A non-finite step is handled the way gradclip's nonFinite: 'skip' promises: gradients left
as they are and no statistic touched. NaN / Infinity are written as the strings "NaN",
"Infinity", "-Infinity".
"""
import json
import math
import os

import numpy as np
import torch

SEED = 20261128
OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'adaptive')
rng = np.random.default_rng(SEED)
torch.set_default_dtype(torch.float64)


def enc(x):
    x = float(x)
    if math.isnan(x):
        return 'NaN'
    if math.isinf(x):
        return 'Infinity' if x > 0 else '-Infinity'
    return x


def enc_list(a):
    return [enc(v) for v in np.asarray(a, dtype=np.float64).ravel()]


def write(name, data):
    with open(os.path.join(OUT, name), 'w') as f:
        json.dump(data, f, separators=(',', ':'))


# ---------------------------------------------------------------- AGC

def unit_norm_tf(x):
    """optax's unitwise_norm: the norm over the axes that are not the output axis."""
    if x.ndim <= 1:
        return np.sqrt(np.sum(x * x))
    if x.ndim in (2, 3):
        axes = (0,)
    elif x.ndim == 4:
        axes = (0, 1, 2)
    elif x.ndim == 5:
        axes = (0, 1, 2, 3)
    else:
        raise ValueError(x.shape)
    return np.sqrt(np.sum(x * x, axis=axes, keepdims=True))


def agc_tf(g, p, clipping, eps):
    g_norm = unit_norm_tf(g)
    p_norm = unit_norm_tf(p)
    max_norm = np.maximum(p_norm, eps) * clipping
    trigger = g_norm < max_norm
    clipped = g * (max_norm / np.maximum(g_norm, 1e-6))
    return np.where(trigger, g, clipped)


def unit_norm_torch(x):
    """timm's unitwise_norm: the whole tensor for rank <= 1, else every dim but 0."""
    if x.ndim <= 1:
        return x.norm(2.0)
    return x.norm(2.0, dim=tuple(range(1, x.ndim)), keepdim=True)


def agc_torch(g, p, clipping, eps):
    g, p = torch.tensor(g), torch.tensor(p)
    p_norm = unit_norm_torch(p).clamp_(min=eps)
    g_norm = unit_norm_torch(g)
    max_norm = p_norm * clipping
    clipped = g * (max_norm / g_norm.clamp(min=1e-6))
    return torch.where(g_norm < max_norm, g, clipped).numpy()


def agc_cases():
    shapes = [[], [7], [4, 5], [3, 4, 2], [3, 3, 2, 4], [2, 2, 2, 3, 2], [6, 1], [1, 6]]
    cases = []
    for layout in ('tf', 'torch'):
        for shape in shapes:
            for clipping, eps in ((0.01, 1e-3), (0.1, 1e-3), (0.5, 0.05)):
                p = rng.normal(0, 1, size=shape)
                if p.size > 2:
                    p.ravel()[: p.size // 3] = 0.0  # some zero weights: the eps floor matters
                g = rng.normal(0, 1, size=shape) * 10.0 ** rng.uniform(-4, 1, size=shape)
                fn = agc_tf if layout == 'tf' else agc_torch
                out = fn(g, p, clipping, eps)
                cases.append({
                    'layout': layout, 'shape': shape, 'clipping': clipping, 'eps': eps,
                    'grad': enc_list(g), 'param': enc_list(p), 'expected': enc_list(out),
                })
    return cases


# ------------------------------------------------------- gradient sequences

def sequence(steps, sizes, nan_steps, spike_steps, seed):
    """Gradient sets with slowly drifting scale, large spikes and a few non-finite steps."""
    r = np.random.default_rng(seed)
    seq = []
    for t in range(steps):
        scale = 0.5 * math.exp(0.3 * math.sin(t / 9.0)) * math.exp(r.normal(0, 0.15))
        tensors = [r.normal(0, 1, size=n) * scale * (1 + i) for i, n in enumerate(sizes)]
        if t in spike_steps:
            tensors[t % len(tensors)] *= 25.0
        if t in nan_steps:
            tensors[0][0] = math.nan if t % 2 == 0 else math.inf
        seq.append(tensors)
    return seq


def total_norm(tensors):
    return math.sqrt(sum(float(np.sum(t * t)) for t in tensors))


def torch_clip(tensors, max_norm):
    """torch.nn.utils.clip_grad_norm_ on copies; returns the clipped arrays."""
    ts = [torch.tensor(t) for t in tensors]
    for t in ts:
        t.grad = t.clone()
    torch.nn.utils.clip_grad_norm_(ts, max_norm)
    return [t.grad.numpy() for t in ts]


def encode_sequence(seq):
    return [[enc_list(t) for t in tensors] for tensors in seq]


def non_finite_step(g, tensors):
    """A step whose norm is NaN / inf: every reference leaves the gradients as they are."""
    return {'norm': enc(g), 'out': [enc_list(t) for t in tensors]}


# ---------------------------------------------------------------- AutoClip

def run_finite_steps(seq, step):
    """Runs a reference over a sequence of steps. A step whose norm is NaN / inf gets
    non_finite_step and never reaches the reference (its state stays as it was); every other
    step's record is step(norm, tensors)."""
    steps = []
    for tensors in seq:
        g = total_norm(tensors)
        steps.append(step(g, tensors) if math.isfinite(g) else non_finite_step(g, tensors))
    return steps


def auto_clip_run(seq, percentile, history_size):
    history = []

    def step(g, tensors):
        nonlocal history
        history.append(g)
        if history_size is not None:
            history = history[-history_size:]
        threshold = float(np.percentile(history, percentile))
        out = torch_clip(tensors, threshold)
        return {'norm': g, 'threshold': threshold, 'out': [enc_list(t) for t in out]}

    return run_finite_steps(seq, step)


# ---------------------------------------------------------------- ZClip

class ZClipReference:
    """bluorion-com/ZClip's algorithm, with the percentile threshold of DESIGN.md §4."""

    def __init__(self, alpha=0.97, z_thresh=2.5, max_grad_norm=1.0, eps=1e-6, warmup_steps=25,
                 mode='zscore', clip_option='adaptive_scaling', clip_factor=1.0, skip_update_on_spike=False):
        self.alpha, self.z_thresh, self.max_grad_norm, self.eps = alpha, z_thresh, max_grad_norm, eps
        self.warmup_steps, self.mode, self.clip_option = warmup_steps, mode, clip_option
        self.clip_factor, self.skip_update_on_spike = clip_factor, skip_update_on_spike
        self.buffer, self.initialized, self.mean, self.var = [], False, None, None

    def compute_clip_val(self, g):
        std = self.var ** 0.5
        if self.mode == 'percentile':
            threshold = self.mean + self.z_thresh * std
            return threshold if g > threshold else None
        z = (g - self.mean) / (std + self.eps)
        if z > self.z_thresh:
            if self.clip_option == 'adaptive_scaling':
                eta = z / self.z_thresh
                return (self.mean + (self.z_thresh * std) / eta) * self.clip_factor
            return self.mean
        return None

    def step(self, tensors):
        g = total_norm(tensors)
        if not self.initialized:
            self.buffer.append(g)
            if len(self.buffer) >= self.warmup_steps:
                self.mean = sum(self.buffer) / len(self.buffer)
                self.var = sum((x - self.mean) ** 2 for x in self.buffer) / len(self.buffer)
                self.initialized = True
                self.buffer = []
            if self.max_grad_norm is not None:
                return g, torch_clip(tensors, self.max_grad_norm)
            return g, tensors
        clip_val = self.compute_clip_val(g)
        adaptive = clip_val if clip_val is not None else g
        effective = min(adaptive, self.max_grad_norm) if self.max_grad_norm is not None else adaptive
        coef = effective / (g + 1e-6) if g > effective else 1.0
        out = [t * coef for t in tensors] if coef < 1.0 else tensors
        if not (clip_val is not None and self.skip_update_on_spike):
            x = clip_val if clip_val is not None else g
            self.mean = self.alpha * self.mean + (1 - self.alpha) * x
            self.var = self.alpha * self.var + (1 - self.alpha) * (x - self.mean) ** 2
        return g, out


def z_clip_run(seq, options):
    ref = ZClipReference(**options)

    def step(_g, tensors):
        g, out = ref.step(tensors)
        return {'norm': g, 'out': [enc_list(t) for t in out],
                'mean': enc(ref.mean if ref.initialized else math.nan),
                'variance': enc(ref.var if ref.initialized else math.nan)}

    return run_finite_steps(seq, step)


# ---------------------------------------------------------------- AdaGC

def ada_gc_run(seq, beta=0.98, lambda_abs=1.0, lambda_rel=1.05, warmup_steps=100, eps=1e-8):
    gamma = {}
    t = 0

    def step(g, tensors):
        nonlocal t
        t += 1
        out = []
        for i, x in enumerate(tensors):
            n = math.sqrt(float(np.sum(x * x)))
            if t < warmup_steps:
                h = min(lambda_abs / (g + eps), 1.0)
                clipped_norm = h * n
                gamma[i] = clipped_norm if t == 1 else min(gamma[i], clipped_norm)
            else:
                h = 1.0 if n == 0 else min(lambda_rel * gamma[i] / n, 1.0)
                gamma[i] = beta * gamma[i] + (1 - beta) * h * n
            out.append(x * h)
        return {'norm': g, 'out': [enc_list(x) for x in out], 'gamma': [gamma[i] for i in range(len(tensors))]}

    return run_finite_steps(seq, step)


def main():
    os.makedirs(OUT, exist_ok=True)
    write('agc.json', {'cases': agc_cases()})

    sizes = [3, 2, 4]
    seq = sequence(150, sizes, nan_steps={17, 64, 65, 120}, spike_steps={30, 31, 77, 100, 101, 102, 140}, seed=SEED + 1)
    auto_runs = []
    for percentile, history_size in ((10, None), (50, None), (90, 20), (0, None), (100, 7)):
        auto_runs.append({'percentile': percentile, 'historySize': history_size,
                          'steps': auto_clip_run(seq, percentile, history_size)})
    write('auto_clip.json', {'sequence': encode_sequence(seq), 'runs': auto_runs})

    # ZClip's default maxGradNorm = 1 would cap almost every step of this sequence; most runs
    # use a larger cap or none so that the z-score logic decides.
    z_configs = [
        {},
        {'max_grad_norm': None, 'warmup_steps': 10},
        {'max_grad_norm': 5.0, 'warmup_steps': 10, 'clip_option': 'mean'},
        {'max_grad_norm': None, 'warmup_steps': 10, 'mode': 'percentile'},
        {'max_grad_norm': None, 'warmup_steps': 10, 'skip_update_on_spike': True, 'clip_factor': 0.7},
        {'max_grad_norm': 3.0, 'warmup_steps': 5, 'alpha': 0.9, 'z_thresh': 1.5, 'eps': 1e-3},
    ]
    z_runs = [{'options': c, 'steps': z_clip_run(seq, c)} for c in z_configs]
    write('z_clip.json', {'sequence': encode_sequence(seq), 'runs': z_runs})

    a_configs = [
        {'warmup_steps': 10},
        {},
        {'warmup_steps': 5, 'beta': 0.9, 'lambda_abs': 0.5, 'lambda_rel': 1.2, 'eps': 1e-6},
    ]
    a_runs = [{'options': c, 'steps': ada_gc_run(seq, **c)} for c in a_configs]
    write('ada_gc.json', {'sequence': encode_sequence(seq), 'runs': a_runs})


if __name__ == '__main__':
    main()
