import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TRAINER_STATE_FILE, readTrainerState, writeTrainerState, type TrainerState } from './trainer-state.js';

const dir = mkdtempSync(join(tmpdir(), 'lmflow-state-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const STATE: TrainerState = {
  step: 120,
  epoch: 1,
  positionInEpoch: 37,
  microStep: 480,
  tokensSeen: 245_760,
  elapsedSeconds: 61.25,
  rng: { dataSeed: 42, generator: { seed: 42, offset: 98_304 } },
  scheduler: { type: 'cosine', learningRate: 2e-5, totalSteps: 300, warmupSteps: 9 },
  logHistory: [
    { step: 10, loss: 2.5, learning_rate: 1e-5, grad_norm: 1.25 },
    { step: 20, loss: NaN, eval_loss: Infinity },
  ],
  config: { model_name_or_path: 'models/tiny', learning_rate: 2e-5, use_lora: false, lora_target_modules: ['q_proj', 'v_proj'] },
};

describe('trainer state JSON', () => {
  it('round trips every field, non-finite metrics included', async () => {
    const file = await writeTrainerState(dir, STATE);
    expect(file).toBe(join(dir, TRAINER_STATE_FILE));
    const back = await readTrainerState(dir);
    expect(back).toEqual(STATE);
    expect(Number.isNaN(back.logHistory[1]!.loss)).toBe(true);
    // The file is plain JSON a person can read: NaN is written as a string.
    expect(readFileSync(file, 'utf8')).toContain('"loss": "NaN"');
  });

  it('names the file and the field of a damaged state', async () => {
    const file = join(dir, TRAINER_STATE_FILE);
    const edit = (change: (json: Record<string, any>) => void) => {
      const json = JSON.parse(JSON.stringify({ format: 'lmflow-trainer-state-v1', ...STATE, logHistory: [] }));
      change(json);
      writeFileSync(file, JSON.stringify(json));
      return readTrainerState(dir);
    };
    await expect(edit((j) => (j.positionInEpoch = -3))).rejects.toThrow(`trainer state ${file}: field "positionInEpoch" is -3, expected an integer >= 0`);
    await expect(edit((j) => delete j.rng.generator.offset)).rejects.toThrow(`field "rng.generator.offset" is missing, expected an integer >= 0`);
    await expect(edit((j) => (j.scheduler.type = 'polynomial'))).rejects.toThrow(`field "scheduler.type" is "polynomial", expected one of constant, constant_with_warmup, linear, cosine`);
    await expect(edit((j) => (j.logHistory = [{ step: 1, loss: 'low' }]))).rejects.toThrow(`field "logHistory[0]": metric "loss" is "low", expected a number`);
    await expect(edit((j) => (j.format = 'hf-trainer-state'))).rejects.toThrow(`field "format" is "hf-trainer-state", expected "lmflow-trainer-state-v1"`);
    await expect(edit((j) => (j.config = null))).rejects.toThrow(`field "config" is null, expected an object`);
    writeFileSync(file, '{"step": 1,');
    await expect(readTrainerState(dir)).rejects.toThrow(`trainer state ${file}: not valid JSON`);
    await expect(readTrainerState(join(dir, 'nope'))).rejects.toThrow(/cannot read it \(ENOENT\); is .*nope a checkpoint folder\?/);
  });

  it('refuses to write a state that would not read back', async () => {
    await expect(writeTrainerState(dir, { ...STATE, step: 1.5 })).rejects.toThrow(/field "step" is 1.5, expected an integer >= 0/);
  });
});
