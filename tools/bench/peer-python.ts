/**
 * Finds a Python with PyTorch for side-by-side benchmarks: LMFLOW_TORCH_PYTHON, then python3
 * on PATH, then /usr/bin/python3 (Debian's python3-torch installs there).
 */
import { spawnSync } from 'node:child_process';

export function findTorchPython(): { python: string; version: string } | null {
  const candidates = [process.env.LMFLOW_TORCH_PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean) as string[];
  for (const python of candidates) {
    const probe = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
    if (probe.status === 0) return { python, version: probe.stdout.trim() };
  }
  return null;
}

/** Runs a Python script with one JSON argument and parses the last JSON line it prints. */
export function runPythonJson<T>(python: string, script: string, config: unknown, env: NodeJS.ProcessEnv = {}): T {
  const run = spawnSync(python, [script, JSON.stringify(config)], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (run.status !== 0) throw new Error(`${script} failed (exit ${run.status}):\n${run.stderr}`);
  const line = run.stdout.trim().split('\n').pop()!;
  return JSON.parse(line) as T;
}
