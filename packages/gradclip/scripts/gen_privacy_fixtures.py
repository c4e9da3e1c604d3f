#!/usr/bin/env python3
"""Reference epsilons for gradclip's RDP accountant (issue 16).

Run with Debian's python3-numpy and python3-scipy:
    /usr/bin/python3 packages/gradclip/scripts/gen_privacy_fixtures.py
It writes packages/gradclip/test/fixtures/privacy/rdp.json.

The formulas are the ones Opacus' RDP accountant evaluates (opacus/accountants/analysis/rdp.py,
itself from TF Privacy), written here from their mathematics, independently of gradclip's
TypeScript:

  * RDP of the sampled Gaussian mechanism (Mironov, Talwar & Zhang 2019, section 3.3) at
    order a, sampling rate q, noise multiplier s:  rdp(a) = log(A_a) / (a - 1), with
      - integer a:    A_a = sum_{i=0..a} C(a, i) q^i (1-q)^(a-i) exp((i^2 - i) / (2 s^2))
      - fractional a: A_a = A0 + A1, the two halves of the integral split at
                      z0 = s^2 log(1/q - 1) + 1/2, each a series in the generalised binomial
                      coefficients C(a, i) with erfc tails; the series stops at the first i
                      where both terms are below exp(-30), as Opacus does.
    q = 1 gives a / (2 s^2); s = 0 gives infinity.  Steps multiply the RDP.
  * (eps, delta) from RDP with Balle et al. 2020, Theorem 21:
      eps(a) = rdp(a) - (log(delta) + log(a)) / (a - 1) + log((a - 1) / a), minimised over a.
  * Opacus' RDPAccountant default orders: 1.1, 1.2, ..., 10.9 and 12, 13, ..., 63.

Every computation is in log space with scipy.special.log_ndtr for log(erfc) and
scipy.special.binom for the coefficients.
"""
import json
import math
import os

import numpy as np
from scipy import special

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'privacy')
DEFAULT_ORDERS = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64))


def log_add(a, b):
    lo, hi = min(a, b), max(a, b)
    if lo == -math.inf:
        return hi
    return hi + math.log1p(math.exp(lo - hi))


def log_sub(a, b):
    # log(e^a - e^b) for a >= b.
    if b == -math.inf:
        return a
    if a <= b:
        return -math.inf
    return a + math.log1p(-math.exp(b - a))


def log_erfc(x):
    # erfc(x) = 2 * Phi(-x * sqrt(2))
    return math.log(2.0) + float(special.log_ndtr(-x * math.sqrt(2.0)))


def log_a_int(q, s, a):
    acc = -math.inf
    for i in range(a + 1):
        t = math.log(special.binom(a, i)) + i * math.log(q) + (a - i) * math.log1p(-q)
        acc = log_add(acc, t + (i * i - i) / (2 * s * s))
    return acc


def log_a_frac(q, s, a):
    a0 = a1 = -math.inf
    z0 = s * s * math.log(1 / q - 1) + 0.5
    i = 0
    while True:
        c = special.binom(a, i)
        lc = math.log(abs(c))
        j = a - i
        t0 = lc + i * math.log(q) + j * math.log1p(-q)
        t1 = lc + j * math.log(q) + i * math.log1p(-q)
        e0 = math.log(0.5) + log_erfc((i - z0) / (math.sqrt(2) * s))
        e1 = math.log(0.5) + log_erfc((z0 - j) / (math.sqrt(2) * s))
        s0 = t0 + (i * i - i) / (2 * s * s) + e0
        s1 = t1 + (j * j - j) / (2 * s * s) + e1
        if c > 0:
            a0, a1 = log_add(a0, s0), log_add(a1, s1)
        else:
            a0, a1 = log_sub(a0, s0), log_sub(a1, s1)
        i += 1
        if max(s0, s1) < -30:
            break
    return log_add(a0, a1)


def rdp_one(q, s, a):
    if s == 0:
        return math.inf
    if q == 1.0:
        return a / (2 * s * s)
    la = log_a_int(q, s, int(a)) if float(a).is_integer() else log_a_frac(q, s, a)
    return la / (a - 1)


def rdp(q, s, steps, orders):
    return np.array([rdp_one(q, s, a) for a in orders]) * steps


def eps_from_rdp(orders, r, delta):
    o = np.asarray(orders, dtype=np.float64)
    e = r - (np.log(delta) + np.log(o)) / (o - 1) + np.log((o - 1) / o)
    k = int(np.nanargmin(e))
    return float(e[k]), float(o[k])


def enc(x):
    x = float(x)
    if math.isinf(x):
        return 'Infinity' if x > 0 else '-Infinity'
    return x


def main():
    os.makedirs(OUT, exist_ok=True)
    grid = []
    for q in [1e-5, 1e-3, 0.01, 0.04, 0.25, 1.0]:
        for s in [0.5, 0.8, 1.1, 2.0, 5.0]:
            for steps in [1, 60, 3000]:
                r = rdp(q, s, steps, DEFAULT_ORDERS)
                for delta in [1e-5, 1e-8]:
                    eps, order = eps_from_rdp(DEFAULT_ORDERS, r, delta)
                    grid.append({'sampleRate': q, 'noiseMultiplier': s, 'steps': steps, 'delta': delta,
                                 'epsilon': enc(eps), 'order': order})
    # Per-order RDP for a few mechanisms (one step), to test the series themselves.
    per_order = []
    for q, s in [(0.01, 1.1), (0.25, 0.8), (1e-3, 0.5), (0.04, 5.0)]:
        per_order.append({'sampleRate': q, 'noiseMultiplier': s,
                          'rdp': [enc(v) for v in rdp(q, s, 1, DEFAULT_ORDERS)]})
    # Opacus' documented example: two mechanisms composed, orders 2..32, delta 1e-5.
    orders = list(range(2, 33))
    r = rdp(1e-5, 1.0, 10, orders) + rdp(1e-4, 3.0, 4, orders)
    eps, order = eps_from_rdp(orders, r, 1e-5)
    example = {'steps': [[1e-5, 1.0, 10], [1e-4, 3.0, 4]], 'orders': orders, 'delta': 1e-5,
               'epsilon': eps, 'order': order}
    data = {'orders': DEFAULT_ORDERS, 'grid': grid, 'perOrder': per_order, 'opacusExample': example}
    with open(os.path.join(OUT, 'rdp.json'), 'w') as f:
        json.dump(data, f, separators=(',', ':'))
    print(f'{len(grid)} grid points; Opacus example eps = {eps:.6f} at order {order:g}')


if __name__ == '__main__':
    main()
