/**
 * The decoding loop, with the decoder hooks at their points:
 *
 *   beforeGenerate
 *   prompt forward (all rows at once, left-padded; logits of the last position only)
 *   repeat:  choose a token per row (processLogits taps, then the built-in processors and
 *            argmax or sampling) -> emit it (EOS, stop strings, length end a row)
 *            proposeTokens -> verify the proposed tokens in one forward (greedy), or
 *            forward the chosen token alone (one token per row, the cache holds the rest)
 *   afterGenerate
 *
 * Rows of a batch step together; a finished row rides along (its tokens are ignored) because the
 * cache has one length for the whole batch.
 */
import { argmax, cast, noGrad, tidy, type Tensor } from '@lmflow/tensor';
import type { LogitsContext, Runtime } from '@lmflow/core';
import { createKvCache, type CausalLM, type KvCache, type Tokenizer } from '@lmflow/models';
import { GenerationError } from '../errors.js';
import { maxNewTokensFor, optionsForHooks, type ResolvedGenerationOptions } from '../options/generation-options.js';
import { chooseToken } from '../sampling/choose-token.js';
import { createRandom } from '../sampling/random.js';
import { createStreamDecoder, type StreamDecoder } from '../text/stream-decoder.js';
import { createStopMatcher, type StopMatcher } from '../text/stop-strings.js';
import { promptInputs, stepInputs, type StepInputs } from './step-inputs.js';
import type { FinishReason, GenerationResult, TextDelta } from './result.js';

export interface DecodeRequest {
  readonly model: CausalLM;
  readonly tokenizer: Tokenizer;
  readonly runtime: Runtime | null;
  /** Token ids per row, each non-empty and checked against the vocabulary. */
  readonly prompts: readonly (readonly number[])[];
  readonly options: ResolvedGenerationOptions;
  /** Most tokens (prompt + generated) a row may hold. */
  readonly contextLength: number;
  /**
   * Which ids come before the generated text when it is decoded: the end of the prompt (a
   * completion continues it: " there" after "Once upon a time,") or none (a chat answer
   * starts a text of its own).
   */
  readonly textContext: 'prompt' | 'none';
  /** Names the caller in errors. */
  readonly caller: string;
  /** Aborts as options.signal does (a stream whose reader stopped). */
  readonly signal?: AbortSignal;
  /** Each row's text as it becomes final. */
  readonly onDelta?: (row: number, delta: TextDelta) => void;
}

/** Prompt tokens kept as context of the text decoder (enough for any leading-space rule). */
const TEXT_CONTEXT_TOKENS = 6;

interface Row {
  readonly prompt: readonly number[];
  readonly generated: number[];
  readonly maxNew: number;
  finish: FinishReason | null;
  readonly decoder: StreamDecoder;
  readonly stopper: StopMatcher;
  text: string;
  /** Ids not yet reported in a delta. */
  unreported: number[];
  /** Prompt and generated ids, for the repetition penalty. */
  readonly seen: Set<number> | null;
  readonly random: () => number;
}

export async function runDecode(request: DecodeRequest): Promise<GenerationResult[]> {
  const { model, tokenizer, options, prompts, caller } = request;
  const hooks = request.runtime?.decoder.hooks ?? null;
  const eos = new Set(options.eosTokenIds);
  const B = prompts.length;
  const promptLength = Math.max(...prompts.map((p) => p.length));
  const room = contextRoom(promptLength, request.contextLength, caller);
  const rows: Row[] = prompts.map((prompt, b) => ({
    prompt,
    generated: [],
    maxNew: Math.min(maxNewTokensFor(options, prompt.length, caller), room),
    finish: null,
    decoder: createStreamDecoder(tokenizer, request.textContext === 'prompt' ? prompt.slice(-TEXT_CONTEXT_TOKENS) : []),
    stopper: createStopMatcher(options.stop),
    text: '',
    unreported: [],
    seen: options.repetitionPenalty === 1 ? null : new Set(prompt),
    random: createRandom(options.seed, b),
  }));
  const steps = Math.max(...rows.map((r) => r.maxNew));
  const padded = prompts.some((p) => p.length !== promptLength);
  // Each row's next position: its own prompt length, whatever the padding.
  const nextPosition = prompts.map((p) => p.length);
  const hookOptions = optionsForHooks(options);
  const context = { promptIds: prompts, options: hookOptions };
  const aborted = () => options.signal?.aborted === true || request.signal?.aborted === true;

  const report = (b: number, text: string, final: boolean) => {
    const row = rows[b]!;
    if (text === '' && !(final && row.unreported.length > 0)) return;
    row.text += text;
    const delta = { text, tokenIds: row.unreported };
    row.unreported = [];
    request.onDelta?.(b, delta);
  };
  const finish = (b: number, reason: FinishReason) => {
    const row = rows[b]!;
    row.finish = reason;
    const rest = reason === 'stop' ? '' : row.stopper.push(row.decoder.flush()).text + row.stopper.flush();
    report(b, rest, true);
  };
  const emit = (b: number, id: number) => {
    const row = rows[b]!;
    if (row.finish) return;
    row.generated.push(id);
    row.unreported.push(id);
    row.seen?.add(id);
    if (eos.has(id)) return finish(b, 'eos');
    const { text, stopped } = row.stopper.push(row.decoder.push(id));
    report(b, text, false);
    if (stopped) return finish(b, 'stop');
    if (row.generated.length >= row.maxNew) finish(b, 'length');
  };
  const active = () => rows.some((r) => !r.finish);
  const generatedContext = (extra?: readonly (readonly number[])[]) => rows.map((r, b) => (extra ? [...r.generated, ...extra[b]!] : r.generated));

  /**
   * The next token of every row from logits (B, V): processLogits taps, then argmax on the
   * device (greedy without penalty: only B ids come back) or the host processors and sampler.
   * `extra`: tokens assumed accepted after the generated ones (verifying proposals).
   */
  const choose = (logits: Tensor, step: number, extra?: readonly (readonly number[])[]): number[] =>
    tidy(() => {
      let processed = logits;
      if (hooks && hooks.processLogits.taps.length > 0) {
        const logitsContext: LogitsContext = { ...context, generated: generatedContext(extra), step };
        processed = hooks.processLogits.call(logits, logitsContext);
        if (processed.ndim !== 2 || processed.shape[0] !== logits.shape[0] || processed.shape[1] !== logits.shape[1]) {
          throw new GenerationError(`decoder.hooks.processLogits returned ${processed.describe()}; expected logits of the shape it was given, ${logits.describe()}`);
        }
      }
      if (!options.doSample && options.repetitionPenalty === 1) {
        return Array.from(argmax(processed, -1).dataSync() as BigInt64Array, Number);
      }
      const V = processed.shape[1]!;
      const host = (processed.dtype === 'f32' ? processed : cast(processed, 'f32')).dataSync() as Float32Array;
      return rows.map((row, b) => {
        if (row.finish) return -1;
        const seen = extra && row.seen ? [...row.seen, ...extra[b]!] : (row.seen ?? []);
        return chooseToken(host.subarray(b * V, (b + 1) * V), options, seen, row.random);
      });
    });

  const cache: KvCache = createKvCache(model, { batch: B, maxLength: Math.min(request.contextLength, promptLength + steps) });
  const forward = (inputs: StepInputs, lastLogitsOnly: boolean): Tensor =>
    noGrad(() => {
      try {
        return model.forward(inputs.ids, { cache, positions: inputs.positions, segments: inputs.segments, lastLogitsOnly });
      } finally {
        inputs.ids.dispose();
        inputs.positions?.dispose();
        inputs.segments?.dispose();
      }
    });

  try {
    hooks?.beforeGenerate.call(context);
    if (aborted()) rows.forEach((_, b) => finish(b, 'abort'));
    let next: number[] = [];
    // Tokens generated so far by every active row (they advance together).
    let step = 0;
    if (active()) {
      // logits: (B, 1, V), the last prompt position of every row (left padding aligns them).
      const logits = forward(promptInputs(prompts, model.device, padIdOf(tokenizer, model)), true);
      try {
        next = tidy(() => choose(logits.select(1, 0), 0));
      } finally {
        logits.dispose();
      }
      next.forEach((id, b) => emit(b, id));
      step = 1;
    }
    while (active()) {
      // Between tokens: timers, I/O and abort signals get their turn.
      await new Promise((resolve) => setImmediate(resolve));
      if (aborted()) {
        rows.forEach((row, b) => row.finish || finish(b, 'abort'));
        break;
      }
      const proposals = hooks && hooks.proposeTokens.taps.length > 0 ? checkProposals(hooks.proposeTokens.call({ ...context, generated: generatedContext(), step }), rows, model, options) : null;
      const fed = next.map((id, b) => (rows[b]!.finish ? padIdOf(tokenizer, model) : id));
      // Proposals beyond the cache or beyond every row's remaining budget would be wasted work.
      const remaining = Math.max(...rows.map((row) => (row.finish ? 0 : row.maxNew - row.generated.length)));
      const k = proposals ? Math.min(proposals.length, cache.maxLength - cache.length - 1, remaining - 1) : 0;
      if (k > 0) {
        const accepted = verifyProposals(proposals!.slice(0, k), fed, step);
        next = accepted.next;
        step += accepted.count + 1;
      } else {
        const logits = forward(stepInputs(fed.map((id) => [id]), nextPosition, padded, model.device), false);
        try {
          next = tidy(() => choose(logits.select(1, 0), step));
        } finally {
          logits.dispose();
        }
        nextPosition.forEach((p, b) => (nextPosition[b] = p + 1));
        next.forEach((id, b) => emit(b, id));
        step += 1;
      }
    }
  } finally {
    cache.dispose();
  }

  /**
   * Speculative decoding, greedy: feeds the chosen token and k proposed ones per row in one
   * forward; position j's logits give the token that follows the first j proposals. The batch
   * accepts the longest prefix every active row agrees with (A tokens), emits those and the
   * model's own token after them, and drops the rejected tokens from the cache. Every emitted
   * token is what greedy decoding gives, so the output is the same with fewer forwards.
   */
  function verifyProposals(draft: number[][], fed: number[], step: number): { next: number[]; count: number } {
    const k = draft.length; // draft[j][b]: the j-th proposed token of row b
    const start = cache.length;
    const tokens = fed.map((id, b) => [id, ...draft.map((d) => (rows[b]!.finish ? id : d[b]!))]);
    const logits = forward(stepInputs(tokens, nextPosition, padded, model.device), false);
    let accepted = k;
    let bonus: number[] = [];
    try {
      for (let j = 0; j <= k; j++) {
        const assumed = rows.map((_, b) => draft.slice(0, j).map((d) => d[b]!));
        const chosen = tidy(() => choose(logits.select(1, j), step + j, assumed));
        const mismatch = j === k || rows.some((row, b) => !row.finish && chosen[b] !== draft[j]![b]);
        if (mismatch) {
          accepted = j;
          bonus = chosen;
          break;
        }
      }
    } finally {
      logits.dispose();
    }
    cache.truncate(start + 1 + accepted);
    nextPosition.forEach((p, b) => (nextPosition[b] = p + 1 + accepted));
    for (let j = 0; j < accepted; j++) draft[j]!.forEach((id, b) => emit(b, id));
    bonus.forEach((id, b) => emit(b, id));
    return { next: bonus, count: accepted };
  }

  const results = rows.map((row) => ({
    text: row.text,
    tokenIds: row.generated,
    finishReason: row.finish ?? 'length',
    usage: { promptTokens: row.prompt.length, completionTokens: row.generated.length },
  }));
  hooks?.afterGenerate.call({ ...context, outputIds: rows.map((r) => r.generated) });
  return results;
}

/** Tokens a prompt leaves for generation in the model's context; throws when none. */
export function contextRoom(promptLength: number, contextLength: number, caller: string): number {
  const room = contextLength - promptLength;
  if (room < 1) {
    throw new GenerationError(
      `${caller}: the prompt has ${promptLength} tokens, and the model's context is ${contextLength} tokens ` +
        '(config.json max_position_embeddings); shorten the prompt',
    );
  }
  return room;
}

/**
 * Proposals as the loop uses them: draft[j][b], the j-th proposed token of row b, for the
 * number of tokens every active row proposed (a row with fewer limits the batch). Proposals
 * are verified greedily; with sampling they would need the proposer's probabilities.
 */
function checkProposals(value: unknown, rows: readonly Row[], model: CausalLM, options: ResolvedGenerationOptions): number[][] | null {
  if (value === undefined || value === null) return null;
  const where = 'decoder.hooks.proposeTokens';
  if (!Array.isArray(value) || value.length !== rows.length || !value.every((r) => Array.isArray(r))) {
    throw new GenerationError(`${where} returned ${JSON.stringify(value)?.slice(0, 80)}; expected one list of token ids per row (${rows.length} rows), or undefined`);
  }
  const lists = value as unknown[][];
  for (const [b, list] of lists.entries()) {
    for (const id of list) {
      if (!Number.isSafeInteger(id) || (id as number) < 0 || (id as number) >= model.vocabSize) {
        throw new GenerationError(`${where} returned ${JSON.stringify(id)} for row ${b}; expected token ids in [0, ${model.vocabSize})`);
      }
    }
  }
  const counts = lists.filter((_, b) => !rows[b]!.finish).map((list) => list.length);
  const k = counts.length === 0 ? 0 : Math.min(...counts);
  if (k === 0) return null;
  if (options.doSample) {
    throw new GenerationError(`${where} proposed tokens while sampling (doSample is true); speculative decoding verifies proposals greedily: propose only when context.options.doSample is false`);
  }
  return Array.from({ length: k }, (_, j) => lists.map((list) => (list[j] as number | undefined) ?? 0));
}

/** An id for padding and finished rows: never attended, only looked up in the embedding. */
function padIdOf(tokenizer: Tokenizer, model: CausalLM): number {
  const id = tokenizer.padTokenId ?? tokenizer.eosTokenId ?? 0;
  return id < model.vocabSize ? id : 0;
}
