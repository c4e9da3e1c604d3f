// `npm start`: runs `gradclip demo` with its default settings and writes report/.
// Extra arguments pass through: `npm start -- --quick --out /tmp/r`.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const need = [
  ['packages/gradclip/dist/index.js', 'gradclip'],
  ['packages/cli/dist/cli.js', '@gradclip/cli'],
];
for (const [file, ws] of need) {
  if (!existsSync(new URL(`../${file}`, import.meta.url))) {
    const r = spawnSync('npm', ['run', 'build', '-w', ws], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
}
const { main } = await import('../packages/cli/dist/cli.js');
process.exitCode = await main(['demo', ...process.argv.slice(2)]);
