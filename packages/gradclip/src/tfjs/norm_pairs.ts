/**
 * The one-pass, overflow-safe norm statistics that gradclip's GPU kernels compute, as shader
 * source (WGSL for webgpu, GLSL ES 3.00 for webgl) generated for one p.
 *
 * Every thread / fragment carries an accumulator (m, s, nan, inf):
 *   m   — the largest finite |x| seen so far,
 *   s   — Σ (|x| / m)^p over the finite values seen so far (so s ∈ [1, count] once m > 0),
 *   nan — the number of NaNs, inf — the number of ±Infinity values.
 * A new value a = |x| > m rescales the sum to the new reference: s ← s·(m/a)^p + 1, m ← a;
 * otherwise s ← s + (a/m)^p. Two accumulators merge the same way (rescale the one with the
 * smaller m). This is LAPACK dnrm2's trick and the online-softmax one: one read of the data,
 * and because every term is relative to the largest value, float32 can neither overflow (the
 * sum is at most the count) nor lose the norm to underflow (the largest term is 1; terms below
 * 2^-126 relative to it cannot change a float32 norm). The norm is m · s^(1/p).
 *
 * NaN and ±Infinity are recognised by their bits, not by comparisons: GPU compilers may assume
 * that no NaN exists and fold `x != x` to false.
 *
 * Precision: the sums are float32. Per thread a short sequential sum, then a tree (WebGPU) or
 * sequential chunks of ~1,000 merged by a tree of merges (WebGL); the relative error of such
 * sums is a few float32 ulps times the depth, ~1e-6 for a million values. Counts are exact up
 * to 2^24 NaNs / Infinities. GPUs may flush float32 subnormals (|x| < 1.2e-38) to zero.
 */

/** (r)^p for 0 ≤ r ≤ 1, as an expression on the variable `r`. */
function powExpr(p: number, lang: 'wgsl' | 'glsl'): string {
  if (p === 1) return 'r';
  if (p === 2) return '(r * r)';
  if (p === Infinity) return '0.0';
  const lit = Number.isInteger(p) ? `${p}.0` : String(p);
  // pow(0, p) is undefined in both languages (exp2(p·log2 0)): guard it.
  return lang === 'wgsl' ? `select(0.0, pow(r, ${lit}), r > 0.0)` : `(r > 0.0 ? pow(r, ${lit}) : 0.0)`;
}

/** WGSL: struct Acc, push(acc, x) and merge(a, b) for this p. */
export function wgslPairs(p: number): string {
  const pw = powExpr(p, 'wgsl');
  return `
struct Acc { m : f32, s : f32, n : f32, i : f32 };

fn pw(r : f32) -> f32 { return ${pw}; }

fn push(acc : Acc, v : f32) -> Acc {
  var o = acc;
  let bits = bitcast<u32>(v) & 0x7fffffffu;
  if (bits > 0x7f800000u) { o.n = o.n + 1.0; return o; }
  if (bits == 0x7f800000u) { o.i = o.i + 1.0; return o; }
  let a = bitcast<f32>(bits);
  if (a > o.m) {
    o.s = o.s * pw(o.m / a) + 1.0;
    o.m = a;
  } else if (a > 0.0) {
    o.s = o.s + pw(a / o.m);
  }
  return o;
}

fn mergeAcc(a : Acc, b : Acc) -> Acc {
  var o : Acc;
  o.n = a.n + b.n;
  o.i = a.i + b.i;
  if (a.m >= b.m) {
    o.m = a.m;
    o.s = a.s;
    if (b.m > 0.0) { o.s = a.s + b.s * pw(b.m / a.m); }
  } else {
    o.m = b.m;
    o.s = b.s;
    if (a.m > 0.0) { o.s = b.s + a.s * pw(a.m / b.m); }
  }
  return o;
}
`;
}

/** GLSL ES 3.00: push(acc, x) and mergeAcc(a, b) on vec4(m, s, nan, inf) for this p. */
export function glslPairs(p: number): string {
  const pw = powExpr(p, 'glsl');
  return `
float pw(float r) { return ${pw}; }

vec4 push(vec4 acc, float v) {
  uint bits = floatBitsToUint(v) & 0x7fffffffu;
  if (bits > 0x7f800000u) { acc.z += 1.0; return acc; }
  if (bits == 0x7f800000u) { acc.w += 1.0; return acc; }
  float a = uintBitsToFloat(bits);
  if (a > acc.x) {
    acc.y = acc.y * pw(acc.x / a) + 1.0;
    acc.x = a;
  } else if (a > 0.0) {
    acc.y += pw(a / acc.x);
  }
  return acc;
}

vec4 mergeAcc(vec4 a, vec4 b) {
  vec4 big = a.x >= b.x ? a : b;
  vec4 small = a.x >= b.x ? b : a;
  float s = big.y;
  if (small.x > 0.0) { s += small.y * pw(small.x / big.x); }
  return vec4(big.x, s, a.z + b.z, a.w + b.w);
}
`;
}
