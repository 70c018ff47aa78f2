#!/usr/bin/env node
// The `lmflow` bin. npm links a workspace's bins before the root `prepare` script builds
// dist/, and skips a bin whose file does not exist yet; this committed file always exists,
// so the link is made on `npm ci` and works once dist/ is built.
const entry = new URL('../dist/main.js', import.meta.url);
try {
  await import(entry.href);
} catch (error) {
  if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes(entry.pathname)) {
    process.stderr.write(`lmflow: error: ${entry.pathname} is not built; run \`npm run build\` at the repository root\n`);
    process.exit(1);
  }
  throw error;
}
