// The benchmark's data and its correctness oracle, shared by every candidate (the C and
// Python peers implement the same generator): value(t, i) is a float32 in [−1, 1) from an
// integer hash, exactly representable, so every language builds bit-identical gradients.

/** Value i of tensor t: (h >> 8 − 2^23) / 2^23 with h = i·2654435761 + t·40503 + 12345 mod 2^32. */
export function valueAt(t, i) {
  const h = (Math.imul(i, 2654435761 | 0) + Math.imul(t, 40503) + 12345) >>> 0;
  return ((h >>> 8) - 8388608) / 8388608;
}

export function fillTensor(a, t) {
  for (let i = 0; i < a.length; i++) a[i] = valueAt(t, i);
  return a;
}

/** The ops the bench measures and their thresholds (chosen so every op really clips). */
export const OPS = {
  global: { threshold: 1, bytesPerValue: 12 }, // norm pass reads 4 B, scale reads + writes 8 B
  value: { threshold: 0.5, bytesPerValue: 8 },
  pertensor: { threshold: 1, bytesPerValue: 12 },
};

/**
 * What a correct candidate must produce, computed in float64 from the generator, one tensor at
 * a time (so 1e8 values need no extra memory): the pre-clip global L2 norm, and for each op the
 * sum, sum of |x| and the first and last values of the clipped output.
 */
export function expectations(total, tensors) {
  const per = total / tensors;
  const a = new Float64Array(per);
  let sq = 0;
  let sum = 0;
  let abs = 0;
  const cv = OPS.value.threshold;
  const cp = OPS.pertensor.threshold;
  const value = { sum: 0, sumAbs: 0, first: 0, last: 0 };
  const pertensor = { sum: 0, sumAbs: 0, first: 0, last: 0 };
  for (let t = 0; t < tensors; t++) {
    fillTensor(a, t);
    let tsq = 0;
    let tsum = 0;
    let tabs = 0;
    for (let i = 0; i < per; i++) {
      const v = a[i];
      tsq += v * v;
      tsum += v;
      tabs += Math.abs(v);
      const c = v > cv ? cv : v < -cv ? -cv : v;
      value.sum += c;
      value.sumAbs += Math.abs(c);
    }
    const f = cp / Math.max(Math.sqrt(tsq), cp);
    pertensor.sum += f * tsum;
    pertensor.sumAbs += f * tabs;
    if (t === 0) pertensor.first = f * a[0];
    if (t === tensors - 1) pertensor.last = f * a[per - 1];
    sq += tsq;
    sum += tsum;
    abs += tabs;
  }
  const clampv = (v) => (v > cv ? cv : v < -cv ? -cv : v);
  value.first = clampv(valueAt(0, 0));
  value.last = clampv(valueAt(tensors - 1, per - 1));
  const norm = Math.sqrt(sq);
  const s = Math.min(1, OPS.global.threshold / (norm + 1e-6));
  const global = {
    norm,
    sum: s * sum,
    sumAbs: s * abs,
    first: s * valueAt(0, 0),
    last: s * valueAt(tensors - 1, per - 1),
  };
  return { global, value, pertensor };
}

const rel = (a, b) => (a === b ? 0 : Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-300));

/**
 * Checks a candidate's output summary against the expectation. `tol` is relative: 1e-5 by
 * default (float32 outputs, float32 or float64 norms); candidates that accumulate in float32
 * sequentially (tfjs) get a looser bound. A kernel that skips or double-counts even a 1e-3
 * fraction of the values, or scales wrongly, fails. Returns a list of problems (empty = ok).
 */
export function check(op, got, want, tol = 1e-5) {
  const bad = [];
  if (op === 'global' && !(rel(got.norm, want.norm) <= tol)) bad.push(`norm ${got.norm} ≠ ${want.norm}`);
  if (!(rel(got.sumAbs, want.sumAbs) <= tol)) bad.push(`Σ|out| ${got.sumAbs} ≠ ${want.sumAbs}`);
  if (!(Math.abs(got.sum - want.sum) <= tol * want.sumAbs)) bad.push(`Σout ${got.sum} ≠ ${want.sum}`);
  for (const k of ['first', 'last']) if (!(rel(got[k], want[k]) <= tol)) bad.push(`${k} ${got[k]} ≠ ${want[k]}`);
  return bad;
}

/** Median, min and max of a list of times. */
export function stats(times) {
  const s = [...times].sort((a, b) => a - b);
  const m = s.length >> 1;
  return { median: s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2, min: s[0], max: s[s.length - 1], reps: s.length };
}

/** Summary of clipped output arrays, as the C and Python peers print it. */
export function summarise(arrays) {
  let sum = 0;
  let sumAbs = 0;
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++) {
      sum += a[i];
      sumAbs += Math.abs(a[i]);
    }
  }
  const last = arrays[arrays.length - 1];
  return { sum, sumAbs, first: arrays[0][0], last: last[last.length - 1] };
}
