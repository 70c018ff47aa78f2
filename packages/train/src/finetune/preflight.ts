/**
 * Checks that need no model or data loaded, run before any work: where the run writes, what
 * it resumes from, and whether the model folder and block size make sense. Each failure names
 * the flag and says what to do; nothing has been written when they fail.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { findLatestCheckpoint, isCheckpointComplete } from '../checkpoint/atomic-checkpoint.js';

export interface PreflightConfig {
  model_name_or_path: string;
  output_dir: string;
  overwrite_output_dir: boolean;
  resume_from_checkpoint?: string | undefined;
  block_size?: number | undefined;
}

export interface PreflightResult {
  /** The checkpoint to resume from, or null for a new run. */
  resumeFrom: string | null;
  /** The model's context length from config.json, when the model is a local folder. */
  contextLength: number | null;
  notes: string[];
}

export async function preflight(config: PreflightConfig): Promise<PreflightResult> {
  const notes: string[] = [];
  const out = config.output_dir;
  if (existsSync(out) && !statSync(out).isDirectory()) {
    throw new Error(`--output_dir ${out} is a file; give a folder (it is created if missing)`);
  }

  let resumeFrom: string | null = null;
  const resume = config.resume_from_checkpoint;
  if (resume === 'auto') {
    const latest = await findLatestCheckpoint(out);
    if (latest) resumeFrom = latest.path;
    else notes.push(`--resume_from_checkpoint auto: no complete checkpoint in ${out}; starting a new run`);
  } else if (resume !== undefined) {
    if (!existsSync(resume) || !statSync(resume).isDirectory()) {
      throw new Error(`--resume_from_checkpoint ${resume}: no such folder; give a checkpoint-<step> folder, or "auto" for the latest in --output_dir`);
    }
    if (!(await isCheckpointComplete(resume))) {
      throw new Error(`--resume_from_checkpoint ${resume}: not a complete checkpoint (its ${'lmflow-checkpoint.json'} marker is missing or does not match its files; a run killed while writing it leaves such a folder). Use an earlier checkpoint, or "auto"`);
    }
    resumeFrom = resume;
  }

  // With "auto" and no checkpoint yet, the folder holds the start of this same run (killed
  // before its first checkpoint): starting again into it is what the user asked for.
  if (!resumeFrom && resume !== 'auto' && existsSync(out) && readdirSync(out).length > 0 && !config.overwrite_output_dir) {
    throw new Error(
      `--output_dir ${out} already exists and is not empty; pass --overwrite_output_dir to train into it anyway, ` +
        '--resume_from_checkpoint auto to continue the run it holds, or choose another folder',
    );
  }

  let contextLength: number | null = null;
  const modelDir = config.model_name_or_path;
  const looksLocal = existsSync(modelDir) || modelDir.startsWith('.') || modelDir.startsWith('/');
  if (looksLocal) {
    if (!existsSync(modelDir) || !statSync(modelDir).isDirectory()) {
      throw new Error(`--model_name_or_path ${modelDir}: no such folder`);
    }
    const configFile = join(modelDir, 'config.json');
    if (!existsSync(configFile)) {
      throw new Error(`--model_name_or_path ${modelDir}: no config.json in the folder; a Hugging Face model folder holds config.json, *.safetensors and tokenizer files`);
    }
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new Error(`${configFile}: not valid JSON (${(error as Error).message})`);
    }
    const positions = parsed.max_position_embeddings ?? parsed.n_positions ?? parsed.n_ctx;
    if (typeof positions === 'number' && Number.isInteger(positions) && positions > 0) contextLength = positions;
  }
  if (config.block_size !== undefined && contextLength !== null && config.block_size > contextLength) {
    throw new Error(`--block_size ${config.block_size} is longer than the model's context (${contextLength} positions in ${join(modelDir, 'config.json')}); use --block_size ${contextLength} or less`);
  }
  return { resumeFrom, contextLength, notes };
}
