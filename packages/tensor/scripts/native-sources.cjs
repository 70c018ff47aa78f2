// Prints the C++ sources of the native CPU backend, one per line, for binding.gyp and the
// development build: every .cc under native/, so a new kernel file needs no build edit.
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const files = fs
  .readdirSync(path.join(root, 'native'), { recursive: true })
  .filter((f) => f.endsWith('.cc'))
  .map((f) => path.posix.join('native', f.split(path.sep).join('/')))
  .sort();
process.stdout.write(files.join('\n') + '\n');
