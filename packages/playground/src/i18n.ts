/**
 * The page's text in English and Korean (the seed article that motivated gradclip is
 * Korean). Every key exists in both languages — the type makes a missing translation a
 * compile error.
 */
import type { Lang, Method, PresetId, Settings } from './settings.js';

type OptionKey = Exclude<keyof Settings, 'method' | 'lang' | 'backend'>;

export interface Strings {
  title: string;
  subtitle: string;
  backend: string;
  language: string;
  controls: string;
  method: string;
  methods: Record<Method, string>;
  explain: Record<Method, string>;
  formulaTitle: string;
  formula: string;
  formulaNote: string;
  options: Record<OptionKey, string>;
  training: string;
  start: string;
  pause: string;
  reset: string;
  share: string;
  copied: string;
  shareLink: string;
  exportCsv: string;
  exportJson: string;
  /** Why the badge's backend was picked; {adapter} is the software adapter's name. */
  backendWhy: { gpu: string; software: string; none: string; forced: string };
  status: { idle: string; running: string; paused: string; done: string; diverged: string };
  stats: { step: string; loss: string; preNorm: string; postNorm: string; clippedFrac: string; stepsPerSec: string };
  charts: {
    loss: string;
    norm: string;
    fraction: string;
    preNorm: string;
    postNorm: string;
    threshold: string;
    cumulative: string;
    window: string;
    step: string;
    chance: string;
  };
  task: string;
  pascanuTitle: string;
  pascanuText: string;
  unclipped: string;
  clipped: string;
  pascanuNoThreshold: string;
  finalLoss: string;
  largestStep: string;
  presets: string;
  presetNames: Record<PresetId, string>;
  /** Shown while the page's training settings are the preset's: what the run will show. */
  presetNotes: Record<PresetId, string>;
}

const en: Strings = {
  title: 'gradclip playground',
  subtitle: 'Watch gradients explode in a recurrent network — and clipping tame them, live in your browser.',
  backend: 'TF.js backend',
  language: 'Language',
  controls: 'Settings',
  method: 'Clipping method',
  methods: {
    none: 'None',
    globalNorm: 'Global norm',
    value: 'Value',
    perTensor: 'Per-tensor norm',
    agc: 'AGC (adaptive, unit-wise)',
    autoClip: 'AutoClip (percentile)',
    zClip: 'ZClip (z-score)',
    adaGC: 'AdaGC (per-tensor EMA)',
  },
  explain: {
    none: 'No clipping: plain SGD. Long sequences and a large recurrent weight make the gradient norm spike by orders of magnitude, and one spike can throw the weights far away.',
    globalNorm:
      'All gradients are treated as one vector g. When ‖g‖ exceeds τ the whole vector is scaled down to length τ; its direction is kept (PyTorch clip_grad_norm_, Keras global_clipnorm; Pascanu et al. 2013).',
    value:
      'Every element is clamped to [−c, c] (PyTorch clip_grad_value_, Keras clipvalue). Cheap, but it changes the direction of the gradient.',
    perTensor:
      'Each weight tensor is scaled to norm at most τ on its own (TF clip_by_norm, Keras clipnorm). Directions within a tensor are kept, the balance between tensors is not.',
    agc: 'Adaptive gradient clipping (Brock et al. 2021): each unit’s gradient may be at most λ times the norm of its weights, ‖G_u‖ ≤ λ·‖W_u‖. No fixed threshold to tune.',
    autoClip:
      'AutoClip (Seetharaman et al. 2020): the threshold is the p-th percentile of all gradient norms seen so far, so it follows the scale of the problem.',
    zClip:
      'ZClip (Kumar et al. 2025): keeps an EMA of the mean and variance of the norm; a norm whose z-score exceeds z is a spike and is scaled down towards the mean. τ caps the norm during warm-up (0 = no cap).',
    adaGC:
      'AdaGC (Wang et al. 2025): each tensor keeps an EMA γ of its own clipped gradient norm and is clipped to λ_rel·γ; warm-up clips the global norm to 1.',
  },
  formulaTitle: 'The idea in one formula',
  formula: 'g ← g · min(1, τ / ‖g‖)',
  formulaNote:
    'If the gradient is longer than τ, shorten it to τ; never lengthen it. Clipping bounds the step, it cannot rescue a vanishing gradient.',
  options: {
    threshold: 'Threshold τ',
    agcClipping: 'AGC factor λ',
    percentile: 'Percentile p',
    zThresh: 'z threshold',
    ema: 'EMA factor (α / β)',
    warmup: 'Warm-up steps',
    lambdaRel: 'λ_rel',
    learningRate: 'Learning rate',
    seqLen: 'Sequence length T',
    weightScale: 'Initial recurrent weight scale',
    seed: 'Seed',
    maxSteps: 'Steps',
  },
  training: 'Training',
  start: 'Start',
  pause: 'Pause',
  reset: 'Reset',
  share: 'Copy link',
  copied: 'Link copied',
  shareLink: 'Share this run',
  exportCsv: 'Export CSV',
  exportJson: 'Export JSON',
  backendWhy: {
    gpu: 'GPU adapter',
    software: 'the GPU is software ({adapter}): cpu is faster',
    none: 'no GPU in this browser',
    forced: 'chosen in the URL',
  },
  status: {
    idle: 'Ready',
    running: 'Training…',
    paused: 'Paused',
    done: 'Done',
    diverged: 'Diverged (loss is not finite)',
  },
  stats: {
    step: 'Step',
    loss: 'Loss',
    preNorm: 'Norm before clipping',
    postNorm: 'Norm applied',
    clippedFrac: 'Steps clipped',
    stepsPerSec: 'Steps / s',
  },
  charts: {
    loss: 'Training loss (log scale)',
    norm: 'Gradient norm (log scale)',
    fraction: 'Fraction of steps clipped',
    preNorm: 'before clipping',
    postNorm: 'applied',
    threshold: 'threshold',
    cumulative: 'all steps so far',
    window: 'last 20 steps',
    step: 'step',
    chance: 'predicting the mean',
  },
  task: 'Task: a tanh RNN (16 units) learns the adding problem — sum the two marked numbers in a sequence of length T. SGD, batch 32.',
  pascanuTitle: 'The cliff: Pascanu’s single-unit RNN',
  pascanuText:
    'xₜ = w·σ(xₜ₋₁) + b, x₀ = 0.5, 50 steps, loss (σ(x₅₀) − 0.7)². The loss surface over (w, b) has a wall. Gradient descent from the same start (white dot), with the current method and threshold on the right.',
  unclipped: 'Without clipping',
  clipped: 'With the current method',
  pascanuNoThreshold: 'Method “None” selected: both panels are plain gradient descent.',
  finalLoss: 'final loss',
  largestStep: 'largest step',
  presets: 'Preset',
  presetNames: { decides: 'Clipping decides' },
  presetNotes: {
    decides:
      'Clipping decides this run (T = 5, learning rate 0.3, recurrent scale 1.5, 500 steps). With “None” the gradient explodes and the loss runs off to NaN within about 30 steps. With “Global norm” at τ = 1 the same network, seed and data learn: the loss falls clearly below the dashed chance line, to about 0.2–0.3× of it over the last 50 steps. Press Start, then switch the method, Reset and Start again.',
  },
};

const ko: Strings = {
  title: 'gradclip 플레이그라운드',
  subtitle: '순환 신경망에서 그래디언트가 폭발하고, 클리핑이 그것을 길들이는 모습을 브라우저에서 직접 확인하세요.',
  backend: 'TF.js 백엔드',
  language: '언어',
  controls: '설정',
  method: '클리핑 방법',
  methods: {
    none: '없음',
    globalNorm: '전역 노름',
    value: '값',
    perTensor: '텐서별 노름',
    agc: 'AGC (적응형, 유닛별)',
    autoClip: 'AutoClip (백분위수)',
    zClip: 'ZClip (z-점수)',
    adaGC: 'AdaGC (텐서별 EMA)',
  },
  explain: {
    none: '클리핑 없음: 일반 SGD입니다. 시퀀스가 길고 순환 가중치가 크면 그래디언트 노름이 몇 자릿수씩 튀고, 한 번의 급등이 가중치를 멀리 날려 보낼 수 있습니다.',
    globalNorm:
      '모든 그래디언트를 하나의 벡터 g로 봅니다. ‖g‖가 τ를 넘으면 벡터 전체를 길이 τ로 줄이며 방향은 유지됩니다 (PyTorch clip_grad_norm_, Keras global_clipnorm; Pascanu 외 2013).',
    value:
      '각 원소를 [−c, c] 범위로 자릅니다 (PyTorch clip_grad_value_, Keras clipvalue). 계산은 싸지만 그래디언트의 방향이 바뀝니다.',
    perTensor:
      '가중치 텐서마다 따로 노름을 최대 τ로 줄입니다 (TF clip_by_norm, Keras clipnorm). 텐서 안의 방향은 유지되지만 텐서 사이의 균형은 바뀝니다.',
    agc: '적응형 그래디언트 클리핑 (Brock 외 2021): 각 유닛의 그래디언트는 그 가중치 노름의 λ배를 넘을 수 없습니다, ‖G_u‖ ≤ λ·‖W_u‖. 조정할 고정 임계값이 없습니다.',
    autoClip:
      'AutoClip (Seetharaman 외 2020): 지금까지 본 그래디언트 노름들의 p번째 백분위수를 임계값으로 삼아 문제의 규모를 따라갑니다.',
    zClip:
      'ZClip (Kumar 외 2025): 노름의 평균과 분산을 EMA로 추적하고, z-점수가 z를 넘는 노름을 급등으로 보고 평균 쪽으로 줄입니다. τ는 워밍업 동안의 상한입니다 (0 = 상한 없음).',
    adaGC:
      'AdaGC (Wang 외 2025): 텐서마다 클리핑된 그래디언트 노름의 EMA γ를 유지하고 λ_rel·γ로 클리핑합니다. 워밍업 동안에는 전역 노름을 1로 자릅니다.',
  },
  formulaTitle: '한 줄로 보는 핵심 공식',
  formula: 'g ← g · min(1, τ / ‖g‖)',
  formulaNote:
    '그래디언트가 τ보다 길면 τ로 줄이고, 절대 늘리지 않습니다. 클리핑은 한 걸음의 크기를 제한할 뿐, 소실되는 그래디언트를 살리지는 못합니다.',
  options: {
    threshold: '임계값 τ',
    agcClipping: 'AGC 계수 λ',
    percentile: '백분위수 p',
    zThresh: 'z 임계값',
    ema: 'EMA 계수 (α / β)',
    warmup: '워밍업 스텝',
    lambdaRel: 'λ_rel',
    learningRate: '학습률',
    seqLen: '시퀀스 길이 T',
    weightScale: '순환 가중치 초기 스케일',
    seed: '시드',
    maxSteps: '스텝 수',
  },
  training: '학습',
  start: '시작',
  pause: '일시정지',
  reset: '초기화',
  share: '링크 복사',
  copied: '링크를 복사했습니다',
  shareLink: '이 실행 공유',
  exportCsv: 'CSV 내보내기',
  exportJson: 'JSON 내보내기',
  backendWhy: {
    gpu: 'GPU 어댑터',
    software: 'GPU가 소프트웨어 구현입니다({adapter}): cpu가 더 빠릅니다',
    none: '이 브라우저에는 GPU가 없습니다',
    forced: 'URL에서 선택됨',
  },
  status: {
    idle: '준비됨',
    running: '학습 중…',
    paused: '일시정지됨',
    done: '완료',
    diverged: '발산함 (손실이 유한하지 않음)',
  },
  stats: {
    step: '스텝',
    loss: '손실',
    preNorm: '클리핑 전 노름',
    postNorm: '적용된 노름',
    clippedFrac: '클리핑된 스텝',
    stepsPerSec: '스텝 / 초',
  },
  charts: {
    loss: '학습 손실 (로그 스케일)',
    norm: '그래디언트 노름 (로그 스케일)',
    fraction: '클리핑된 스텝의 비율',
    preNorm: '클리핑 전',
    postNorm: '적용됨',
    threshold: '임계값',
    cumulative: '전체 누적',
    window: '최근 20 스텝',
    step: '스텝',
    chance: '평균으로 예측할 때',
  },
  task: '과제: tanh RNN (유닛 16개)이 덧셈 문제를 배웁니다 — 길이 T의 시퀀스에서 표시된 두 수의 합을 맞힙니다. SGD, 배치 32.',
  pascanuTitle: '절벽: Pascanu의 단일 유닛 RNN',
  pascanuText:
    'xₜ = w·σ(xₜ₋₁) + b, x₀ = 0.5, 50 스텝, 손실 (σ(x₅₀) − 0.7)². (w, b) 위의 손실 곡면에는 벽이 있습니다. 같은 출발점(흰 점)에서의 경사 하강법이며, 오른쪽은 현재 방법과 임계값을 사용합니다.',
  unclipped: '클리핑 없음',
  clipped: '현재 방법 사용',
  pascanuNoThreshold: '“없음”이 선택되어 있어 두 그림 모두 일반 경사 하강법입니다.',
  finalLoss: '최종 손실',
  largestStep: '가장 큰 스텝',
  presets: '프리셋',
  presetNames: { decides: '클리핑이 결과를 가른다' },
  presetNotes: {
    decides:
      '이 설정(T = 5, 학습률 0.3, 순환 가중치 스케일 1.5, 500 스텝)에서는 클리핑이 결과를 가릅니다. “없음”으로 학습하면 그래디언트가 폭발해 약 30 스텝 안에 손실이 NaN이 됩니다. τ = 1의 “전역 노름”으로 학습하면 같은 네트워크, 시드, 데이터로 학습에 성공해 손실이 점선(우연 수준) 아래로 뚜렷하게 내려가며, 마지막 50 스텝 평균이 그 0.2–0.3배 정도입니다. 시작을 누른 뒤 방법을 바꾸고 초기화한 다음 다시 시작해 보세요.',
  },
};

export const STRINGS: Readonly<Record<Lang, Strings>> = { en, ko };
