/**
 * Messages between workerEngine (main thread) and the engine worker. Each request carries an
 * id its answers repeat; errors travel as plain {name, message, param} since Error objects lose
 * their class crossing threads.
 */
import type { EngineGenerationOptions, EngineInfo, EngineResult, PromptInput } from './engine.js';

/** How the worker loads its model (workerData). */
export interface WorkerEngineData {
  modelNameOrPath: string;
  modelId: string;
  /** Tensor device ('cpu', 'cuda:0'). @default the tensor package's default */
  device?: string;
  /** Weight dtype ('f32', 'bf16'). @default the checkpoint's */
  dtype?: string;
  /** LMFlow preset name, 'tokenizer' or 'hf_auto'. @default the model's own chat template, else 'empty' */
  conversationTemplate?: string;
  /** A PEFT LoRA adapter folder applied on top of the model (needs @lmflow/plugin-lora). */
  loraModelPath?: string;
}

export type ToWorker =
  | { type: 'count'; id: number; input: PromptInput }
  | { type: 'generate'; id: number; input: PromptInput; options: EngineGenerationOptions }
  | { type: 'abort'; id: number }
  | { type: 'close' };

export interface WireError {
  name: string;
  message: string;
  /** Set for EngineInputError: the request field at fault. */
  param?: string;
}

export type FromWorker =
  | { type: 'ready'; info: EngineInfo }
  | { type: 'load-failed'; error: WireError }
  | { type: 'counted'; id: number; tokens: number }
  | { type: 'text'; id: number; text: string }
  | { type: 'done'; id: number; result: EngineResult }
  | { type: 'failed'; id: number; error: WireError }
  | { type: 'closed' };

export function toWire(error: unknown): WireError {
  if (error instanceof Error) {
    const param = (error as { param?: unknown }).param;
    return { name: error.name, message: error.message, ...(typeof param === 'string' && { param }) };
  }
  return { name: 'Error', message: String(error) };
}
