// `npm start`: the main job. Until the experiments CLI lands this only checks that the
// built library loads and says what is coming.
const m = await import('gradclip');
const g = new Float32Array([3, 4]);
const r = m.clipByGlobalNorm(g, 1);
console.log(`gradclip loaded: clipByGlobalNorm([3, 4], 1) -> norm ${r.norm}, clipped to [${Array.from(g, (x) => x.toFixed(3)).join(', ')}]`);
console.log('The clipping experiments (gradclip demo) are not built yet.');
