/**
 * The tape. An op whose inputs require gradients records one GradNode for its output: where
 * each input's gradient goes (an edge) and a closure computing those gradients. The node
 * keeps aliases of the tensors the closure needs ("saved"), so disposing the forward
 * tensors (tidy) does not free what backward needs.
 *
 * A node lives while its output tensor or a later node refers to it. When the last one goes
 * (the output disposed and no later node needs it) its saved tensors are released, and so
 * on up the graph; backward() releases each node as soon as it has run.
 */
import { Tensor, setGradFnReleaser } from '../tensor.js';
import { isGradEnabled } from './grad-mode.js';

/** Where an input's gradient goes: the node that produced it, or a leaf's .grad. */
export type Edge = { node: GradNode; leaf?: undefined } | { leaf: Tensor; node?: undefined };

/**
 * Computes input gradients from the output gradient. `needs[i]` says whether input i wants
 * one (skip the work when it does not, e.g. frozen weights); return null for those.
 * Runs with grad mode off. It may return `grad` itself or one tensor for several inputs.
 */
export type BackwardFn = (grad: Tensor, saved: readonly Tensor[], needs: readonly boolean[]) => readonly (Tensor | null)[];

export interface GradNode {
  readonly op: string;
  /** One per input of the op; null for inputs that need no gradient. */
  readonly edges: readonly (Edge | null)[];
  /** Input shapes and dtypes, to check what backward returns. */
  readonly inputMeta: readonly { shape: readonly number[]; dtype: string }[];
  backward: BackwardFn | null;
  saved: Tensor[];
  /** Output tensors and later nodes referring to this node. */
  refs: number;
}

/** True when an op on these inputs must record a node (grad mode on and an input requires grad). */
export function needsRecording(inputs: readonly Tensor[]): boolean {
  return isGradEnabled() && inputs.some((t) => t.requiresGrad);
}

/**
 * Records `output = op(inputs)` on the tape, if any input requires grad and grad mode is on.
 * `save` are tensors the backward needs (their data, not their gradients).
 * With `force`, the output requires grad even if no input does (checkpoint segments that
 * close over parameters).
 */
export function record(op: string, inputs: readonly Tensor[], output: Tensor, save: readonly Tensor[], backward: BackwardFn, options: { force?: boolean } = {}): Tensor {
  if (!isGradEnabled()) return output;
  if (!options.force && !inputs.some((t) => t.requiresGrad)) return output;
  const edges = inputs.map((t): Edge | null => {
    if (!t.requiresGrad) return null;
    if (t.gradFn) {
      t.gradFn.refs++;
      return { node: t.gradFn };
    }
    return { leaf: t };
  });
  const node: GradNode = {
    op,
    edges,
    inputMeta: inputs.map((t) => ({ shape: t.shape, dtype: t.dtype })),
    backward,
    saved: save.map((t) => t.alias()),
    refs: 1,
  };
  output.requiresGrad = true;
  output.gradFn = node;
  return output;
}

/** Drops one reference; at zero, frees the saved tensors and walks up the graph. */
export function releaseNode(node: GradNode): void {
  const stack = [node];
  while (stack.length) {
    const n = stack.pop()!;
    if (--n.refs > 0) continue;
    freeSaved(n);
    for (const edge of n.edges) if (edge?.node) stack.push(edge.node);
  }
}

/** Frees what a node kept for its backward (after backward ran, or when it is released). */
export function freeSaved(node: GradNode): void {
  for (const t of node.saved) t.dispose();
  node.saved = [];
  node.backward = null;
}

setGradFnReleaser(releaseNode);
