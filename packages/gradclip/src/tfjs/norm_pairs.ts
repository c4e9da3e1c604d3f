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
 * Reading the data, a thread takes its values in blocks of BLOCK: it loads a block, takes the
 * block's largest |x|, and folds the whole block in with one division (the reciprocal of the
 * new reference) and BLOCK multiply-adds, instead of a division per value (see `fastPath` for
 * how NaN / ±Infinity are found without a test per value). Merging partial
 * results — between threads and workgroups — uses the same rescaling.
 *
 * NaN and ±Infinity are recognised by their bits, not by comparisons: GPU compilers may assume
 * that no NaN exists and fold `x != x` to false.
 *
 * Precision: the sums are float32. Per thread a short sequential sum, then a tree (WebGPU) or
 * sequential chunks of ~1,000 merged by a tree of merges (WebGL); the relative error of such
 * sums is a few float32 ulps times the depth, ~1e-6 for a million values. Counts are exact up
 * to 2^24 NaNs / Infinities. GPUs may flush float32 subnormals (|x| < 1.2e-38) to zero.
 */

/** Values a thread loads before folding them into its accumulator (one division per block). */
export const BLOCK = 16;

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

/**
 * Whether a block can be folded on the fast path: with p = 1 or 2 a NaN or ±Infinity anywhere in
 * the block makes the block's sum (or its reference) non-finite — Infinity·0 and NaN·x are NaN —
 * so values are not checked one by one; only a block whose result is not finite is folded
 * again value by value, counting the NaNs and Infinities (the careful path). For other p the
 * power hides nothing reliably (pow of NaN is undefined in both languages; p = ∞ sums nothing),
 * and every block takes the careful path. A block whose largest |x| is 2¹²⁶ or more also takes the
 * careful path: 1/big would be a float32 subnormal, which GPUs flush to 0 (the norm of a gradient
 * just under float32's maximum came out 0, and nothing was clipped).
 */
const fastPath = (p: number) => p === 1 || p === 2;

/** |r|^p on the fast path (p = 1, 2). */
const fastPow = (p: number, r: string) => (p === 2 ? `${r} * ${r}` : `abs(${r})`);

/**
 * WGSL statements that fold the values `load(i)` for i = first + k·stride, k < count·BLOCK,
 * i < n into the function variables m, s, nn, ni (declared by the caller), block by block.
 */
export function wgslFold(
  p: number,
  load: (i: string) => string,
  first: string,
  stride: number,
  count: number,
  n: string,
): string {
  const careful = `
      for (var k = 0; k < ${BLOCK}; k = k + 1) {
        let o = push(Acc(m, s, nn, ni), blockVals[k]);
        m = o.m; s = o.s; nn = o.n; ni = o.i;
      }`;
  const body = fastPath(p)
    ? `
    let big = max(m, bm);
    let inv = select(0.0, 1.0 / big, big > 0.0);
    var bs = 0.0;
    for (var k = 0; k < ${BLOCK}; k = k + 1) { let r = blockVals[k] * inv; bs = bs + ${fastPow(p, 'r')}; }
    if ((bitcast<u32>(big) & 0x7fffffffu) < 0x7e800000u && (bitcast<u32>(bs) & 0x7fffffffu) < 0x7f800000u) {
      s = s * pw(m * inv) + bs;
      m = big;
    } else {${careful}
    }`
    : careful;
  return `
  for (var blk = 0; blk < ${count}; blk = blk + 1) {
    // Blocks past the end of a short tensor: stop instead of looping over nothing.
    if (${first} + blk * ${BLOCK * stride} >= ${n}) { break; }
    var bm = 0.0;
    for (var k = 0; k < ${BLOCK}; k = k + 1) {
      let idx = ${first} + (blk * ${BLOCK} + k) * ${stride};
      var v = 0.0;
      if (idx < ${n}) { v = ${load('idx')}; }
      blockVals[k] = v;
      bm = max(bm, abs(v));
    }
    ${body}
  }`;
}

/**
 * GLSL statements: the same fold over i in [start, stop) (contiguous), into vec4 acc = (m, s,
 * nan, inf); `advance` runs after each read (for readers that keep a position).
 */
export function glslFold(p: number, load: (i: string) => string, start: string, stop: string, advance = ''): string {
  const careful = `for (int k = 0; k < ${BLOCK}; k++) { acc = push(acc, blockVals[k]); }`;
  const body = fastPath(p)
    ? `
    float big = max(acc.x, bm);
    float inv = big > 0.0 ? 1.0 / big : 0.0;
    float bs = 0.0;
    for (int k = 0; k < ${BLOCK}; k++) { float r = blockVals[k] * inv; bs += ${fastPow(p, 'r')}; }
    if ((floatBitsToUint(big) & 0x7fffffffu) < 0x7e800000u && (floatBitsToUint(bs) & 0x7fffffffu) < 0x7f800000u) {
      acc.y = acc.y * pw(acc.x * inv) + bs;
      acc.x = big;
    } else {
      ${careful}
    }`
    : careful;
  return `
  for (int b0 = ${start}; b0 < ${stop}; b0 += ${BLOCK}) {
    float bm = 0.0;
    for (int k = 0; k < ${BLOCK}; k++) {
      float v = b0 + k < ${stop} ? ${load('b0 + k')} : 0.0;
      ${advance}
      blockVals[k] = v;
      bm = max(bm, abs(v));
    }
    ${body}
  }`;
}

/**
 * GLSL: the same fold over the values of a texture of `cols` columns read in place, flat
 * positions [start, stop): (row, col) advance with the position, so a read costs no index
 * arithmetic.
 */
export function glslFold2D(p: number, get: string, cols: number, start: string, stop: string): string {
  return `
  int row = ${start} / ${cols};
  int col = ${start} - row * ${cols};
  ${glslFold(p, () => `${get}(row, col)`, start, stop, `col++; if (col == ${cols}) { col = 0; row++; }`)}`;
}

/** GLSL: fold4(acc, v) folds the four values of v into acc = (m, s, nan, inf), one division for all four. */
export function glslFold4(p: number): string {
  const careful = 'acc = push(acc, v.x); acc = push(acc, v.y); acc = push(acc, v.z); acc = push(acc, v.w); return acc;';
  if (!fastPath(p)) return `vec4 fold4(vec4 acc, vec4 v) { ${careful} }`;
  return `
vec4 fold4(vec4 acc, vec4 v) {
  vec4 a = abs(v);
  float big = max(acc.x, max(max(a.x, a.y), max(a.z, a.w)));
  float inv = big > 0.0 ? 1.0 / big : 0.0;
  vec4 r = v * inv;
  float bs = ${p === 2 ? 'dot(r, r)' : 'dot(abs(r), vec4(1.0))'};
  if ((floatBitsToUint(big) & 0x7fffffffu) < 0x7e800000u && (floatBitsToUint(bs) & 0x7fffffffu) < 0x7f800000u) {
    return vec4(big, acc.y * pw(acc.x * inv) + bs, acc.z, acc.w);
  }
  ${careful}
}`;
}
