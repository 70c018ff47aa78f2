// The install step of @lmflow/tensor: builds the native CPU backend with node-gyp, unless the
// built addon is already newer than every native source (a workspace `npm install` of some
// other package then costs nothing). LMFLOW_FORCE_NATIVE_BUILD=1 always rebuilds.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const addon = path.join(root, 'build', 'Release', 'lmflow_cpu.node');

function newestSource() {
  const files = fs
    .readdirSync(path.join(root, 'native'), { recursive: true })
    .map((f) => path.join(root, 'native', f))
    .concat([path.join(root, 'binding.gyp')]);
  return Math.max(...files.map((f) => fs.statSync(f).mtimeMs));
}

if (!process.env.LMFLOW_FORCE_NATIVE_BUILD && fs.existsSync(addon) && fs.statSync(addon).mtimeMs > newestSource()) {
  console.log('@lmflow/tensor: native CPU backend is up to date');
  process.exit(0);
}
// npm puts its bundled node-gyp on PATH for install scripts (and names it in npm_config_node_gyp).
const gyp = process.env.npm_config_node_gyp;
const command = gyp ? process.execPath : 'node-gyp';
const args = [...(gyp ? [gyp] : []), 'rebuild', '--jobs', 'max'];
const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', shell: !gyp && process.platform === 'win32' });
process.exit(result.status ?? 1);
