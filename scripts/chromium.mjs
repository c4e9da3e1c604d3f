// How every browser test, check and benchmark of the repository launches Chromium: Debian's
// /usr/bin/chromium (`npx playwright install` cannot download a browser here), driven by
// playwright-core. One place for the path and the flags.
import { existsSync } from 'node:fs';

export const CHROMIUM = '/usr/bin/chromium';

/**
 * Headless, no sandbox (CI runs as root), and nothing that reaches the network on its own.
 * GPUs: `swiftshader` (the default) renders WebGL with SwiftShader behind ANGLE and, with
 * `webgpu`, exposes SwiftShader's WebGPU adapter; `hardware` uses the machine's GPU;
 * `disableGpu` turns GPU compositing off (pages that only need WebGL through SwiftShader).
 */
export function chromiumArgs({ gpu = 'swiftshader', webgpu = false, disableGpu = false, extra = [] } = {}) {
  return [
    '--headless',
    '--no-sandbox',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-quic',
    ...(disableGpu ? ['--disable-gpu'] : []),
    ...(gpu === 'swiftshader'
      ? ['--use-angle=swiftshader', '--enable-unsafe-swiftshader']
      : ['--ignore-gpu-blocklist']),
    ...(webgpu ? ['--enable-unsafe-webgpu'] : []),
    ...extra,
  ];
}

/** Throws a message that says how to get Chromium when it is missing; `what` names the caller. */
export function requireChromium(what) {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${what} needs Debian's chromium at ${CHROMIUM}: apt-get install chromium (.ci/run does this)`);
  }
}
