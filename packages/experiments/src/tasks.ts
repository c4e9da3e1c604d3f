/**
 * Long-range sequence tasks and the seeded random numbers the experiments use.
 * Browser-safe (no Node imports) and independent of TensorFlow.js: batches are plain
 * Float32Arrays with their shapes, which callers wrap in tensors.
 */

/**
 * A small seeded PRNG (mulberry32: 32-bit state, period 2³²). Plenty for generating
 * training data and initial weights, and identical in every JS engine, so a fixed seed
 * reproduces a run exactly.
 */
export class Rng {
  private s: number;
  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
    // Mix the seed so that nearby seeds start far apart.
    this.s = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ 0xc2b2ae35) >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** Standard normal (Box–Muller; 1 − u keeps the log argument in (0, 1]). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}

/** A batch in row-major layout: inputs [batch, steps, features], targets [batch, outputs]. */
export interface Batch {
  inputs: Float32Array;
  inputShape: [number, number, number];
  targets: Float32Array;
  targetShape: [number, number];
}

export interface TaskSpec {
  readonly name: string;
  readonly features: number;
  readonly outputs: number;
  /** 'mse' for regression, 'softmax' for classification with one-hot targets. */
  readonly loss: 'mse' | 'softmax';
  /** Loss of the best constant prediction: a model at this level has learned nothing. */
  readonly chanceLoss: number;
  batch(rng: Rng, batchSize: number, steps: number): Batch;
}

/**
 * The adding problem (Hochreiter & Schmidhuber 1997; used by Pascanu et al. 2013 and Le et
 * al. 2015). Each time step carries two features: a value drawn uniformly from [0, 1) and a
 * marker that is 1 at exactly two positions — one in the first half, one in the second half —
 * and 0 elsewhere. The target is the sum of the two marked values. The first marker can be
 * up to T steps before the end, so the gradient must travel that far back.
 *
 * Predicting the constant 1 gives MSE = Var(u₁ + u₂) = 2/12 ≈ 0.167: the "learned nothing"
 * level.
 */
export const addingProblem: TaskSpec = {
  name: 'adding',
  features: 2,
  outputs: 1,
  loss: 'mse',
  chanceLoss: 1 / 6,
  batch(rng: Rng, batchSize: number, steps: number): Batch {
    if (steps < 2) throw new RangeError(`steps must be at least 2, got ${steps}`);
    const inputs = new Float32Array(batchSize * steps * 2);
    const targets = new Float32Array(batchSize);
    const half = Math.floor(steps / 2);
    for (let i = 0; i < batchSize; i++) {
      const first = rng.int(half);
      const second = half + rng.int(steps - half);
      let sum = 0;
      for (let t = 0; t < steps; t++) {
        const u = rng.next();
        const o = (i * steps + t) * 2;
        inputs[o] = u;
        if (t === first || t === second) {
          inputs[o + 1] = 1;
          sum += Math.fround(u);
        }
      }
      targets[i] = sum;
    }
    return { inputs, inputShape: [batchSize, steps, 2], targets, targetShape: [batchSize, 1] };
  },
};

/**
 * The temporal-order problem (Hochreiter & Schmidhuber 1997, task 6a; Pascanu et al. 2013).
 * Six symbols, one-hot: a, b are the relevant ones, c–f distractors. Two relevant symbols
 * appear, at a position in [10%, 20%) and one in [50%, 60%) of the sequence; everything
 * else is a random distractor. The class is the ordered pair (aa, ab, ba, bb): 4 classes,
 * so chance cross-entropy is ln 4 ≈ 1.386.
 */
export const temporalOrder: TaskSpec = {
  name: 'temporal-order',
  features: 6,
  outputs: 4,
  loss: 'softmax',
  chanceLoss: Math.log(4),
  batch(rng: Rng, batchSize: number, steps: number): Batch {
    if (steps < 10) throw new RangeError(`steps must be at least 10 for temporal-order, got ${steps}`);
    const inputs = new Float32Array(batchSize * steps * 6);
    const targets = new Float32Array(batchSize * 4);
    const lo1 = Math.floor(0.1 * steps);
    const lo2 = Math.floor(0.5 * steps);
    const span = Math.max(1, Math.floor(0.1 * steps));
    for (let i = 0; i < batchSize; i++) {
      const p1 = lo1 + rng.int(span);
      const p2 = lo2 + rng.int(span);
      const s1 = rng.int(2);
      const s2 = rng.int(2);
      for (let t = 0; t < steps; t++) {
        const sym = t === p1 ? s1 : t === p2 ? s2 : 2 + rng.int(4);
        inputs[(i * steps + t) * 6 + sym] = 1;
      }
      targets[i * 4 + s1 * 2 + s2] = 1;
    }
    return { inputs, inputShape: [batchSize, steps, 6], targets, targetShape: [batchSize, 4] };
  },
};

export const TASKS: Readonly<Record<string, TaskSpec>> = {
  adding: addingProblem,
  'temporal-order': temporalOrder,
};
