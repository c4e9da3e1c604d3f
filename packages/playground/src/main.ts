/**
 * The playground page: controls ↔ settings ↔ URL, the training loop, live charts and the
 * Pascanu panel. Training yields to the browser between steps (`await data()` and
 * `tf.nextFrame()`), so the page stays responsive while it runs.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgpu';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-cpu';
import { COLORS, LiveChart, lossSpec, renderStatic, seriesSpec, surfaceSpec } from './charts.js';
import { tensorClipStep, typedClipper } from './clipping.js';
import { STRINGS, type Strings } from './i18n.js';
import { DOMAIN, surfaceRows, trajectory } from './pascanu_panel.js';
import {
  METHOD_OPTIONS,
  METHODS,
  parseNumber,
  presetOf,
  PRESETS,
  RANGES,
  settingsFromQuery,
  settingsToQuery,
  type Method,
  type Settings,
} from './settings.js';
import { chartRows, type LossRow } from './rows.js';
import { Trainer, type StepRecord } from './train.js';
import { addingProblem } from '@gradclip/experiments/tasks';
import './style.css';
import { redrawBudget } from './throttle.js';
import { pickOrder, type AdapterReport, type BackendPick } from './backend_choice.js';
import { runLabel, runToCSV, runToJSON } from './run_export.js';

type NumericKey = keyof typeof RANGES;
type Status = keyof Strings['status'];

const TRAINING_KEYS: readonly NumericKey[] = ['learningRate', 'seqLen', 'weightScale', 'seed', 'maxSteps'];
/** Settings whose change restarts training (a new network); the others apply live. */
const RESTART_KEYS: readonly (keyof Settings)[] = ['learningRate', 'seqLen', 'weightScale', 'seed'];

const $ = <E extends HTMLElement = HTMLElement>(id: string): E => {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`missing #${id}`);
  return el as E;
};

let settings: Settings = settingsFromQuery(location.search);
let text: Strings = STRINGS[settings.lang];
let trainer: Trainer | null = null;
let status: Status = 'idle';
let running = false;
let records: StepRecord[] = [];
type Charts = { loss: LiveChart; norm: LiveChart; fraction: LiveChart };
let charts: Charts | null = null;
let pending: StepRecord[] = [];
let flushing = false;
let rate = { t0: 0, steps0: 0, value: 0 };
/** The settings the current run started with (its label when it becomes an earlier run). */
let runSettings: Settings = settings;
/**
 * Earlier runs, newest last (at most MAX_PREVIOUS), drawn faded in the loss chart and — their
 * norm before clipping — in the gradient-norm chart.
 */
let previous: { label: string; loss: LossRow[]; norm: LossRow[] }[] = [];
const MAX_PREVIOUS = 2;
let backendPick: BackendPick = { order: ['cpu'], reason: 'none' };

// ---------------------------------------------------------------- settings and controls

function numberInput(key: NumericKey): HTMLElement {
  const spec = RANGES[key];
  const wrap = document.createElement('label');
  wrap.className = 'field';
  const name = document.createElement('span');
  name.className = 'field-name';
  name.dataset.opt = key;
  const input = document.createElement('input');
  input.type = 'number';
  input.id = `opt-${key}`;
  input.min = String(spec.min);
  input.max = String(spec.max);
  input.step = spec.integer === true ? '1' : 'any';
  input.value = String(settings[key]);
  input.addEventListener('change', () => {
    const v = parseNumber(key, input.value);
    input.classList.toggle('invalid', v === undefined);
    if (v === undefined) return;
    update({ [key]: v });
  });
  wrap.append(name, input);
  return wrap;
}

function buildControls(): void {
  const select = $<HTMLSelectElement>('method');
  select.replaceChildren(...METHODS.map((m) => new Option(m, m)));
  select.value = settings.method;
  select.addEventListener('change', () => update({ method: select.value as Method }));
  const methodBox = $('method-options');
  const allMethodKeys = [...new Set(Object.values(METHOD_OPTIONS).flat())];
  methodBox.replaceChildren(...allMethodKeys.map(numberInput));
  $('training-options').replaceChildren(...TRAINING_KEYS.map(numberInput));
  buildPresets();
  $('start').addEventListener('click', () => (running ? pause() : void start()));
  $('reset').addEventListener('click', () => void reset());
  $('share').addEventListener('click', () => void copyLink());
  $('export-csv').addEventListener('click', () => download('gradclip-run.csv', runToCSV(records), 'text/csv'));
  $('export-json').addEventListener('click', () =>
    download('gradclip-run.json', runToJSON(runSettings, records), 'application/json'),
  );
  for (const b of Array.from(document.querySelectorAll<HTMLButtonElement>('[data-lang]'))) {
    b.addEventListener('click', () => update({ lang: b.dataset.lang as Settings['lang'] }));
  }
}

/**
 * The preset buttons and the note that says what a preset's run shows, placed above the
 * training settings (built here so the page's HTML stays as it is).
 */
function buildPresets(): void {
  const box = document.createElement('div');
  box.className = 'presets';
  box.id = 'presets';
  const label = document.createElement('span');
  label.className = 'field-name';
  label.id = 'presets-label';
  box.append(label);
  for (const p of PRESETS) {
    const b = document.createElement('button');
    b.type = 'button';
    b.dataset.preset = p.id;
    b.addEventListener('click', () => update(p.settings));
    box.append(b);
  }
  const note = document.createElement('p');
  note.id = 'preset-note';
  note.className = 'explain preset-note';
  note.hidden = true;
  const training = $('training-options');
  training.parentElement!.insertBefore(box, training.previousElementSibling);
  training.parentElement!.insertBefore(note, training.previousElementSibling);
}

/** Shows the note of the preset whose training settings are in force, if any. */
function syncPresetNote(): void {
  const id = presetOf(settings);
  const note = $('preset-note');
  note.hidden = id === null;
  note.textContent = id === null ? '' : text.presetNotes[id];
  for (const b of Array.from(document.querySelectorAll<HTMLButtonElement>('[data-preset]')))
    b.setAttribute('aria-pressed', String(b.dataset.preset === id));
}

/** Shows the options of the current method only and puts every value in its control. */
function syncControls(): void {
  $<HTMLSelectElement>('method').value = settings.method;
  const shown = new Set(METHOD_OPTIONS[settings.method]);
  for (const key of Object.keys(RANGES) as NumericKey[]) {
    const input = $<HTMLInputElement>(`opt-${key}`);
    if (document.activeElement !== input) input.value = String(settings[key]);
    input.classList.remove('invalid');
    if (!TRAINING_KEYS.includes(key)) input.parentElement!.hidden = !shown.has(key);
  }
  syncPresetNote();
}

function applyText(): void {
  text = STRINGS[settings.lang];
  document.documentElement.lang = settings.lang;
  document.title = text.title;
  for (const el of Array.from(document.querySelectorAll<HTMLElement>('[data-i18n]'))) {
    el.textContent = String(text[el.dataset.i18n as keyof Strings]);
  }
  for (const el of Array.from(document.querySelectorAll<HTMLElement>('[data-opt]'))) {
    el.textContent = text.options[el.dataset.opt as NumericKey];
  }
  for (const o of Array.from($<HTMLSelectElement>('method').options)) o.text = text.methods[o.value as Method];
  for (const [id, key] of Object.entries({
    'l-step': 'step',
    'l-loss': 'loss',
    'l-pre': 'preNorm',
    'l-post': 'postNorm',
    'l-frac': 'clippedFrac',
    'l-rate': 'stepsPerSec',
  } as const)) {
    $(id).textContent = text.stats[key];
  }
  for (const b of Array.from(document.querySelectorAll<HTMLButtonElement>('[data-lang]'))) {
    b.setAttribute('aria-pressed', String(b.dataset.lang === settings.lang));
  }
  $('method-explain').textContent = text.explain[settings.method];
  $('presets-label').textContent = text.presets;
  for (const b of Array.from(document.querySelectorAll<HTMLButtonElement>('[data-preset]')))
    b.textContent = text.presetNames[b.dataset.preset as keyof Strings['presetNames']];
  syncPresetNote();
  $('start').textContent = running ? text.pause : text.start;
  $('status').textContent = text.status[status];
  // The charts are canvases: give screen readers their titles.
  const labels = {
    'chart-loss': text.charts.loss,
    'chart-norm': text.charts.norm,
    'chart-fraction': text.charts.fraction,
    'surface-plain': text.unclipped,
    'surface-clipped': text.clipped,
  };
  for (const [id, label] of Object.entries(labels)) {
    $(id).setAttribute('role', 'img');
    $(id).setAttribute('aria-label', label);
  }
  syncBackendWhy();
}

function update(change: Partial<Settings>): void {
  const before = settings;
  settings = { ...settings, ...change };
  history.replaceState(null, '', `${location.pathname}${settingsToQuery(settings)}`);
  syncShareLink();
  syncControls();
  const changed = (k: keyof Settings) => before[k] !== settings[k];
  if (changed('lang')) {
    applyText();
    void rebuildCharts();
  } else {
    $('method-explain').textContent = text.explain[settings.method];
  }
  const methodChanged = (['method', ...Object.values(METHOD_OPTIONS).flat()] as (keyof Settings)[]).some(changed);
  if (RESTART_KEYS.some(changed)) void reset();
  else if (methodChanged && trainer !== null) trainer.setClip(tensorClipStep(settings));
  if (methodChanged || changed('learningRate') || changed('lang')) schedulePascanu();
}

/** Offers `text` as a file download. */
function download(name: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** The "share this run" link: this page with the current settings in its query. */
function syncShareLink(): void {
  $<HTMLAnchorElement>('share-link').href = `${location.origin}${location.pathname}${settingsToQuery(settings)}`;
}

/** The badge's note on why this backend runs. */
function syncBackendWhy(): void {
  const why = text.backendWhy[backendPick.reason].replace('{adapter}', shortAdapter(backendPick.adapter ?? ''));
  $('backend-why').textContent = `(${why})`;
  $('backend-why').title = backendPick.adapter ?? '';
}

/** "ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero) …)" → "SwiftShader". */
function shortAdapter(a: string): string {
  const m = /swiftshader|llvmpipe|softpipe|lavapipe|basic render driver/i.exec(a);
  return m ? (m[0].toLowerCase() === 'swiftshader' ? 'SwiftShader' : m[0]) : a.slice(0, 40);
}

async function copyLink(): Promise<void> {
  try {
    await navigator.clipboard.writeText(location.href);
    $('share').textContent = text.copied;
  } catch {
    // Clipboard access can be refused (insecure origin, permissions): the URL bar has it too.
  }
  setTimeout(() => ($('share').textContent = text.share), 1500);
}

// ---------------------------------------------------------------- charts

function chartSize(id: string): [number, number] {
  const el = $(id);
  const style = getComputedStyle(el);
  const inner = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  // Vega's width is the plot area's: leave room for the y-axis labels and padding.
  const w = Math.max(200, Math.floor(inner) - 46);
  return [w, Math.round(Math.min(230, Math.max(160, w * 0.6)))];
}

async function rebuildCharts(): Promise<void> {
  const old = charts;
  charts = null;
  old?.loss.finalize();
  old?.norm.finalize();
  old?.fraction.finalize();
  const c = text.charts;
  const [w, h] = chartSize('chart-loss');
  const made = {
    loss: await LiveChart.create(
      $('chart-loss'),
      lossSpec({ title: c.loss, step: c.step, labels: {}, chance: c.chance }, addingProblem.chanceLoss, w, h),
    ),
    norm: await LiveChart.create(
      $('chart-norm'),
      seriesSpec(
        { title: c.norm, step: c.step, labels: { pre: c.preNorm, post: c.postNorm, threshold: c.threshold } },
        COLORS,
        w,
        h,
        {
          log: true,
          dashed: ['threshold'],
          overlay: true,
        },
      ),
    ),
    fraction: await LiveChart.create(
      $('chart-fraction'),
      seriesSpec(
        { title: c.fraction, step: c.step, labels: { cumulative: c.cumulative, window: c.window } },
        COLORS,
        w,
        h,
        {
          domain: [0, 1],
        },
      ),
    ),
  };
  // Everything recorded so far goes in now; steps that land while these rows render wait
  // in `pending` for the next flush.
  pending = [];
  const rows = chartRows(records, 0, records.length);
  await Promise.all([made.loss.append(rows.loss), made.norm.append(rows.norm), made.fraction.append(rows.fraction)]);
  await drawOverlays(made);
  charts = made;
}

/**
 * Chart redraws: at most one a second, and a pause after each that grows with its cost
 * (throttle.ts). Each redraw draws a bounded, decimated view of the run (charts.ts), so its
 * cost does not grow with the run.
 */
const charting = redrawBudget(1000, 0.2);

function flushSoon(): void {
  if (charting.ready()) void flush();
}

/** Streams the steps recorded since the last flush into the charts and the stats row. */
async function flush(): Promise<void> {
  if (flushing || charts === null || pending.length === 0) return;
  flushing = true;
  const started = performance.now();
  const batch = pending;
  pending = [];
  const rows = chartRows(records, records.length - batch.length, records.length);
  await Promise.all([
    charts.loss.append(rows.loss),
    charts.norm.append(rows.norm),
    charts.fraction.append(rows.fraction),
  ]);
  showStats();
  charting.done(started);
  flushing = false;
}

const fmt = (x: number | undefined): string =>
  x === undefined
    ? '–'
    : !Number.isFinite(x)
      ? String(x)
      : x === 0
        ? '0'
        : Math.abs(x) >= 1e4 || Math.abs(x) < 1e-3
          ? x.toExponential(2)
          : x.toPrecision(4);

function showStats(): void {
  const last = records.at(-1);
  $('s-step').textContent = String(last?.step ?? 0);
  $('s-loss').textContent = fmt(last?.loss);
  $('s-pre').textContent = fmt(last?.preNorm);
  $('s-post').textContent = fmt(last?.postNorm);
  const clipped = records.filter((r) => r.clipped).length;
  $('s-frac').textContent = records.length === 0 ? '–' : `${clipped} / ${records.length}`;
  $('s-rate').textContent = rate.value > 0 ? rate.value.toFixed(1) : '–';
}

// ---------------------------------------------------------------- training

function setStatus(s: Status): void {
  status = s;
  $('status').textContent = text.status[s];
  $('status').dataset.status = s;
  $('start').textContent = running ? text.pause : text.start;
  document.body.dataset.status = s;
}

function newTrainer(): Trainer {
  return new Trainer(
    {
      seqLen: settings.seqLen,
      learningRate: settings.learningRate,
      weightScale: settings.weightScale,
      seed: settings.seed,
    },
    tensorClipStep(settings),
  );
}

async function start(): Promise<void> {
  if (running) return;
  if (trainer === null || status === 'diverged' || trainer.stepCount >= settings.maxSteps) await reset();
  if (records.length === 0) runSettings = settings;
  running = true;
  setStatus('running');
  rate = { t0: performance.now(), steps0: records.length, value: 0 };
  const current = trainer!;
  while (running && trainer === current && current.stepCount < settings.maxSteps) {
    let record: StepRecord;
    try {
      record = await current.step();
    } catch (e) {
      running = false;
      setStatus('idle');
      throw e;
    }
    if (trainer !== current) break; // reset while the step was in flight
    records.push(record);
    pending.push(record);
    const dt = performance.now() - rate.t0;
    if (dt > 500) rate.value = ((records.length - rate.steps0) * 1000) / dt;
    flushSoon();
    if (!Number.isFinite(record.loss)) {
      running = false;
      setStatus('diverged');
      break;
    }
    await tf.nextFrame();
  }
  if (trainer !== current) return;
  if (running) {
    running = false;
    setStatus(current.stepCount >= settings.maxSteps ? 'done' : 'paused');
  }
  await waitForFlush();
  showStats();
}

function pause(): void {
  running = false;
  setStatus('paused');
}

async function waitForFlush(): Promise<void> {
  while (flushing || pending.length > 0) {
    await flush();
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The earlier runs as rows of a chart's overlay, each named by its settings (① the latest). */
function overlayRows(chart: 'loss' | 'norm'): { step: number; value: number; run: string }[] {
  return previous.flatMap((p, i) =>
    p[chart].map((r) => ({ ...r, run: `${i === previous.length - 1 ? '①' : '②'} ${p.label}` })),
  );
}

/** Draws the earlier runs in the loss and gradient-norm charts. */
async function drawOverlays(made: Charts): Promise<void> {
  await Promise.all([made.loss.setOverlay(overlayRows('loss')), made.norm.setOverlay(overlayRows('norm'))]);
}

async function reset(): Promise<void> {
  running = false;
  // The run being replaced stays in the loss and norm charts, faded, to compare the next one against.
  if (records.length > 0) {
    const rows = chartRows(records, 0, records.length);
    const norm = rows.norm.filter((r) => r.series === 'pre').map(({ step, value }) => ({ step, value }));
    previous = [
      ...previous,
      { label: runLabel(runSettings, text.methods[runSettings.method]), loss: rows.loss, norm },
    ].slice(-MAX_PREVIOUS);
  }
  runSettings = settings;
  trainer?.dispose();
  trainer = newTrainer();
  records = [];
  pending = [];
  rate = { t0: 0, steps0: 0, value: 0 };
  while (flushing) await new Promise((r) => setTimeout(r, 5));
  if (charts !== null) {
    await Promise.all([charts.loss.clear(), charts.norm.clear(), charts.fraction.clear()]);
    await drawOverlays(charts);
  }
  showStats();
  setStatus('idle');
}

// ---------------------------------------------------------------- Pascanu panel

let pascanuTimer: ReturnType<typeof setTimeout> | undefined;
function schedulePascanu(): void {
  clearTimeout(pascanuTimer);
  pascanuTimer = setTimeout(() => void drawPascanu(), 120);
}

async function drawPascanu(): Promise<void> {
  const surface = surfaceRows();
  const plain = trajectory(settings.learningRate, null);
  const clipped = trajectory(settings.learningRate, typedClipper(settings));
  const size = Math.max(200, Math.min(360, $('surface-plain').clientWidth - 110));
  const legend = text.stats.loss;
  await renderStatic($('surface-plain'), surfaceSpec(text.unclipped, surface, plain.path, DOMAIN, size, legend));
  await renderStatic(
    $('surface-clipped'),
    surfaceSpec(`${text.clipped}: ${text.methods[settings.method]}`, surface, clipped.path, DOMAIN, size, legend),
  );
  const caption = (t: ReturnType<typeof trajectory>) =>
    `${text.finalLoss} ${fmt(t.finalLoss)} · ${text.largestStep} ${fmt(t.largestStep)}`;
  $('cap-plain').textContent = caption(plain);
  $('cap-clipped').textContent = settings.method === 'none' ? text.pascanuNoThreshold : caption(clipped);
}

// ---------------------------------------------------------------- start-up

/** What the browser says about its GPU adapters (nothing is kept: the probe context is released). */
async function adapterReport(): Promise<AdapterReport> {
  type Adapter = { info?: Record<string, unknown>; isFallbackAdapter?: boolean };
  const gpu = (navigator as { gpu?: { requestAdapter(): Promise<Adapter | null> } }).gpu;
  const adapter = gpu === undefined ? null : await gpu.requestAdapter().catch(() => null);
  const webgpu =
    adapter === null
      ? null
      : {
          info: ['vendor', 'architecture', 'device', 'description']
            .map((k) => String(adapter.info?.[k] ?? ''))
            .filter((x) => x !== '')
            .join(' '),
          fallback: adapter.isFallbackAdapter === true || adapter.info?.['isFallbackAdapter'] === true,
        };
  let webgl: string | null = null;
  const canvas = document.createElement('canvas');
  const gl = (canvas.getContext('webgl2') ?? canvas.getContext('webgl')) as WebGLRenderingContext | null;
  if (gl !== null) {
    const ext = gl.getExtension('WEBGL_debug_renderer_info');
    webgl = String(gl.getParameter(ext !== null ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
    gl.getExtension('WEBGL_lose_context')?.loseContext();
  }
  return { webgpu, webgl };
}

/**
 * `auto`: WebGPU where the browser offers a hardware adapter (gradclip/tfjs runs its
 * compute-shader kernels there), else hardware WebGL, else the cpu backend — a software
 * adapter (SwiftShader, llvmpipe) is slower than cpu (backend_choice.ts). `?backend=` forces
 * one (with cpu as the fallback). The badge shows the backend in use and why.
 */
async function pickBackend(): Promise<string> {
  backendPick = pickOrder(
    settings.backend,
    settings.backend === 'auto' ? await adapterReport() : { webgpu: null, webgl: null },
  );
  for (const name of backendPick.order) {
    try {
      if (await tf.setBackend(name)) return name;
    } catch {
      // Backend initialisation failed (no WebGL context): try the next one.
    }
  }
  if (await tf.setBackend('cpu')) return 'cpu';
  throw new Error('no TF.js backend could be initialised');
}

/** Read-only hooks for the end-to-end test and for curious users in the console. */
declare global {
  interface Window {
    playground: {
      history(): StepRecord[];
      /** Rows each live chart draws (bounded: decimated beyond MAX_POINTS_PER_SERIES a series). */
      chartRows(): { loss: number; norm: number; fraction: number };
      /** The latest step each live chart draws. */
      chartSteps(): { loss: number; norm: number; fraction: number };
      status(): string;
      backend(): string;
      numTensors(): number;
      settings(): Settings;
      /** Why the backend was picked: 'gpu' | 'software' | 'none' | 'forced', and the adapter. */
      backendPick(): BackendPick;
      /** Labels of the earlier runs drawn in the loss and gradient-norm charts. */
      previousRuns(): string[];
      /** Each live chart's legend labels with their right edge (CSS px from the canvas's left). */
      legendLayout(): Record<'loss' | 'norm' | 'fraction', { text: string; right: number }[]>;
    };
  }
}

async function main(): Promise<void> {
  buildControls();
  syncControls();
  applyText();
  const backend = await pickBackend();
  $('backend').textContent = backend;
  $('backend').dataset.backend = backend;
  syncBackendWhy();
  syncShareLink();
  window.playground = {
    history: () => records.slice(),
    chartRows: () => ({
      loss: charts?.loss.rows ?? 0,
      norm: charts?.norm.rows ?? 0,
      fraction: charts?.fraction.rows ?? 0,
    }),
    chartSteps: () => ({
      loss: charts?.loss.lastStep ?? 0,
      norm: charts?.norm.lastStep ?? 0,
      fraction: charts?.fraction.lastStep ?? 0,
    }),
    status: () => status,
    backend: () => tf.getBackend(),
    numTensors: () => tf.memory().numTensors,
    settings: () => ({ ...settings }),
    backendPick: () => ({ ...backendPick }),
    previousRuns: () => previous.map((p) => p.label),
    legendLayout: () => ({
      loss: charts?.loss.legendLayout() ?? [],
      norm: charts?.norm.legendLayout() ?? [],
      fraction: charts?.fraction.legendLayout() ?? [],
    }),
  };
  await rebuildCharts();
  await reset();
  await drawPascanu();
  let resizeTimer: ReturnType<typeof setTimeout> | undefined;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      void rebuildCharts();
      schedulePascanu();
    }, 200);
  });
  document.body.dataset.ready = 'true';
}

void main();
