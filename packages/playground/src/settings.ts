/**
 * The playground's settings and their URL form. Every control of the page maps to one
 * query parameter, so a configuration can be shared as a link; values that are missing,
 * malformed or out of range fall back to the default (a shared link never breaks the page).
 */

export const METHODS = ['none', 'globalNorm', 'value', 'perTensor', 'agc', 'autoClip', 'zClip', 'adaGC'] as const;
export type Method = (typeof METHODS)[number];

export const LANGS = ['en', 'ko'] as const;
export type Lang = (typeof LANGS)[number];

export const BACKENDS = ['auto', 'webgpu', 'webgl', 'cpu'] as const;
export type BackendChoice = (typeof BACKENDS)[number];

export interface Settings {
  method: Method;
  /** τ: max norm for globalNorm / perTensor, c for value, maxGradNorm cap for zClip (0 = none). */
  threshold: number;
  /** AGC: clipping factor λ (max ‖G_u‖ / ‖W_u‖). */
  agcClipping: number;
  /** AutoClip: percentile p of the norm history. */
  percentile: number;
  /** ZClip: z-score threshold. */
  zThresh: number;
  /** ZClip / AdaGC: EMA factor (ZClip α, AdaGC β). */
  ema: number;
  /** ZClip / AdaGC: warm-up steps. */
  warmup: number;
  /** AdaGC: λ_rel, how far above its running norm a tensor's gradient may go. */
  lambdaRel: number;
  learningRate: number;
  /** Length of the adding-problem sequences the RNN reads. */
  seqLen: number;
  /** Scale of the recurrent weight matrix at initialisation (≈ its spectral radius). */
  weightScale: number;
  seed: number;
  /** Training stops by itself after this many steps. */
  maxSteps: number;
  lang: Lang;
  backend: BackendChoice;
}

export const DEFAULTS: Readonly<Settings> = {
  method: 'globalNorm',
  threshold: 1,
  agcClipping: 0.01,
  percentile: 10,
  zThresh: 2.5,
  ema: 0.97,
  warmup: 25,
  lambdaRel: 1.05,
  learningRate: 0.3,
  seqLen: 10,
  weightScale: 1.5,
  seed: 1,
  maxSteps: 300,
  lang: 'en',
  backend: 'auto',
};

type NumericKey = { [K in keyof Settings]: Settings[K] extends number ? K : never }[keyof Settings];

interface NumericSpec {
  min: number;
  max: number;
  integer?: boolean;
}

/** Valid ranges of the numeric settings; the controls use the same bounds. */
export const RANGES: Readonly<Record<NumericKey, NumericSpec>> = {
  threshold: { min: 0, max: 1e6 },
  agcClipping: { min: 1e-4, max: 10 },
  percentile: { min: 0, max: 100 },
  zThresh: { min: 0.1, max: 20 },
  ema: { min: 0, max: 0.9999 },
  warmup: { min: 1, max: 1000, integer: true },
  lambdaRel: { min: 1, max: 100 },
  learningRate: { min: 1e-5, max: 10 },
  seqLen: { min: 2, max: 200, integer: true },
  weightScale: { min: 0, max: 10 },
  seed: { min: 0, max: 2 ** 31 - 1, integer: true },
  maxSteps: { min: 1, max: 100_000, integer: true },
};

/** Short, stable query-parameter names. */
const PARAM: Readonly<Record<keyof Settings, string>> = {
  method: 'method',
  threshold: 'tau',
  agcClipping: 'agc',
  percentile: 'pct',
  zThresh: 'z',
  ema: 'ema',
  warmup: 'warmup',
  lambdaRel: 'lrel',
  learningRate: 'lr',
  seqLen: 'T',
  weightScale: 'scale',
  seed: 'seed',
  maxSteps: 'steps',
  lang: 'lang',
  backend: 'backend',
};

function oneOf<T extends string>(allowed: readonly T[], raw: string | null, fallback: T): T {
  return raw !== null && (allowed as readonly string[]).includes(raw) ? (raw as T) : fallback;
}

/** A numeric setting from its text, or undefined when it is not a valid value. */
export function parseNumber(key: NumericKey, raw: string | null): number | undefined {
  if (raw === null || raw.trim() === '') return undefined;
  const x = Number(raw);
  const spec = RANGES[key];
  if (!Number.isFinite(x) || x < spec.min || x > spec.max) return undefined;
  if (spec.integer === true && !Number.isInteger(x)) return undefined;
  return x;
}

/** Settings from a query string (`?method=value&tau=0.5`); anything invalid takes its default. */
export function settingsFromQuery(query: string): Settings {
  const q = new URLSearchParams(query);
  const s: Settings = { ...DEFAULTS };
  s.method = oneOf(METHODS, q.get(PARAM.method), DEFAULTS.method);
  s.lang = oneOf(LANGS, q.get(PARAM.lang), DEFAULTS.lang);
  s.backend = oneOf(BACKENDS, q.get(PARAM.backend), DEFAULTS.backend);
  for (const key of Object.keys(RANGES) as NumericKey[]) {
    const v = parseNumber(key, q.get(PARAM[key]));
    if (v !== undefined) s[key] = v;
  }
  return s;
}

/** The query string of `s`, listing only the settings that differ from the defaults. */
export function settingsToQuery(s: Settings): string {
  const q = new URLSearchParams();
  for (const key of Object.keys(PARAM) as (keyof Settings)[]) {
    if (s[key] !== DEFAULTS[key]) q.set(PARAM[key], String(s[key]));
  }
  const text = q.toString();
  return text === '' ? '' : `?${text}`;
}

/** Which method options the controls show for each method. */
export const METHOD_OPTIONS: Readonly<Record<Method, readonly NumericKey[]>> = {
  none: [],
  globalNorm: ['threshold'],
  value: ['threshold'],
  perTensor: ['threshold'],
  agc: ['agcClipping'],
  autoClip: ['percentile'],
  zClip: ['zThresh', 'ema', 'warmup', 'threshold'],
  adaGC: ['lambdaRel', 'ema', 'warmup'],
};

/** A named configuration the page offers as one click, with what it shows. */
export interface Preset {
  id: PresetId;
  /** Applied on top of the current settings (training restarts). */
  settings: Partial<Settings>;
}

export const PRESET_IDS = ['decides'] as const;
export type PresetId = (typeof PRESET_IDS)[number];

/**
 * "Clipping decides": short sequences (T = 5) with a recurrent matrix of spectral radius
 * ≈ 1.5 and lr 0.3. Without clipping the loss runs off to NaN within about 30 steps; with
 * global-norm clipping at τ = 1 the same network, seed and data learn, ending at 0.2–0.3×
 * the chance loss over the last 50 of 500 steps (seeds 1–3, cpu backend; the page's text
 * and test/preset.test.ts state and check this).
 */
export const PRESETS: readonly Preset[] = [
  {
    id: 'decides',
    settings: { method: 'globalNorm', threshold: 1, learningRate: 0.3, seqLen: 5, weightScale: 1.5, maxSteps: 500 },
  },
];

/** The keys a preset is recognised by: the training settings that decide the outcome. */
const PRESET_KEYS: readonly (keyof Settings)[] = ['learningRate', 'seqLen', 'weightScale', 'maxSteps'];

/** The preset whose training settings `s` has (any method and seed), or null. */
export function presetOf(s: Settings): PresetId | null {
  const p = PRESETS.find((x) => PRESET_KEYS.every((k) => x.settings[k] === undefined || x.settings[k] === s[k]));
  return p?.id ?? null;
}
