/**
 * An error about the user's adapter, options or model (a bad adapter_config.json, a tensor of
 * the wrong shape, targets that match nothing): named, so the CLI reports it as a mistake to
 * fix, not as a bug.
 */
export class LoraError extends Error {
  override readonly name = 'LoraError';
}
