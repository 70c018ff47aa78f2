/**
 * What a training checkpoint holds, and reading it back. A checkpoint folder is a usable
 * Hugging Face model (what saveModel writes, as transformers' Trainer does) plus:
 *   optimizer.safetensors       optimizer state (moments, master weights, step counts)
 *   lmflow_trainer_state.json   where the run is, RNG, schedule, metrics, config
 *   trainable.safetensors       the trainable parameters by name, only when the saved model is
 *                               not the whole model (a plugin's stateDict tap keeps adapters only)
 * The folder is written atomically (writeCheckpoint), so a crash never leaves half a checkpoint.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Optimizer } from '@lmflow/core';
import type { Tensor } from '@lmflow/tensor';
import { loadSafetensors, saveModel, saveSafetensors, type CausalLM } from '@lmflow/models';
import { writeCheckpoint } from '../checkpoint/atomic-checkpoint.js';
import { readTrainerState, writeTrainerState, type TrainerState } from '../checkpoint/trainer-state.js';
import { loadTensorState, saveTensorState } from '../checkpoint/tensor-state.js';

export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const TRAINABLE_FILE = 'trainable.safetensors';

export interface CheckpointParts {
  model: CausalLM;
  trainable: readonly [string, Tensor][];
  optimizer: Optimizer;
  state: TrainerState;
}

export async function saveTrainingCheckpoint(outputDir: string, parts: CheckpointParts): Promise<string> {
  return writeCheckpoint(outputDir, parts.state.step, async (dir) => {
    await saveModel(parts.model, dir);
    // A stateDict tap (LoRA) may save only part of the model; then the trainable parameters
    // are what a resume needs on top of the base model.
    if (parts.model.runtime?.model.hooks.stateDict.isUsed()) {
      await saveSafetensors(join(dir, TRAINABLE_FILE), new Map(parts.trainable), { metadata: { format: 'lmflow-trainable-v1' } });
    }
    await saveTensorState(join(dir, OPTIMIZER_FILE), parts.optimizer.stateDict());
    await writeTrainerState(dir, parts.state);
  });
}

export interface LoadedCheckpoint {
  dir: string;
  state: TrainerState;
  /** True when the folder is a whole model to load; false when trainable tensors go onto the base model. */
  holdsModel: boolean;
  readOptimizerState(device: string): Promise<Map<string, Tensor | number>>;
  readTrainable(device: string): Promise<Map<string, Tensor>>;
}

export async function openTrainingCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  const state = await readTrainerState(dir);
  return {
    dir,
    state,
    holdsModel: !existsSync(join(dir, TRAINABLE_FILE)),
    readOptimizerState: (device) => loadTensorState(join(dir, OPTIMIZER_FILE), { device }),
    readTrainable: async (device) => (await loadSafetensors(join(dir, TRAINABLE_FILE), { device })).tensors,
  };
}
