/**
 * RoPE settings from config.json: rope_theta (or rope_parameters.rope_theta in newer
 * transformers), and rope_scaling, of which only the plain ("default") rotation is built in.
 * Scaled variants (linear, dynamic, yarn, llama3, longrope) come from the rope-scaling plugin,
 * which rewrites the config in model.hooks.configure; until then they are refused, since
 * ignoring them would silently compute another model.
 */
import type { ConfigFields } from './fields.js';

export function readRopeTheta(fields: ConfigFields, fallback: number): number {
  const { raw } = fields;
  const parameters = raw.rope_parameters;
  if (parameters !== undefined && parameters !== null) {
    if (typeof parameters !== 'object' || Array.isArray(parameters)) fields.fail('rope_parameters', 'an object such as {"rope_type": "default", "rope_theta": 10000}');
    checkRopeType(fields, 'rope_parameters', parameters as Record<string, unknown>);
    const theta = (parameters as Record<string, unknown>).rope_theta;
    if (theta !== undefined) {
      if (typeof theta !== 'number' || !(theta > 0) || !Number.isFinite(theta)) fields.fail('rope_parameters', 'a positive "rope_theta"');
      return theta;
    }
  }
  const scaling = raw.rope_scaling;
  if (scaling !== undefined && scaling !== null) {
    if (typeof scaling !== 'object' || Array.isArray(scaling)) fields.fail('rope_scaling', 'null or an object with "rope_type"');
    checkRopeType(fields, 'rope_scaling', scaling as Record<string, unknown>);
  }
  return fields.positiveNumber('rope_theta', fallback);
}

function checkRopeType(fields: ConfigFields, key: string, value: Record<string, unknown>): void {
  const type = value.rope_type ?? value.type ?? 'default';
  if (type !== 'default') {
    fields.fail(
      key,
      'rope type "default"',
      `rope type ${JSON.stringify(type)} is not built in: add the rope-scaling plugin, which supports scaled RoPE variants`,
    );
  }
  const factor = value.partial_rotary_factor;
  if (factor !== undefined && factor !== 1) fields.fail(key, 'no partial_rotary_factor (or 1)', `partial rotary embeddings are not supported for this architecture`);
}
