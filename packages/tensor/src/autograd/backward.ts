/**
 * Reverse-mode differentiation over the tape (see node.ts).
 *
 * Nodes run in dependency order (Kahn's algorithm): a node runs once every later node that
 * feeds it has delivered its gradient. Gradients of leaves accumulate into `.grad`, in place
 * when the leaf already has one. Each node's saved tensors are freed right after it runs.
 */
import { Tensor, storageRefCount } from '../tensor.js';
import { formatShape, sameShape } from '../shape.js';
import { keep, tidy } from '../memory/scope.js';
import { noGrad } from './grad-mode.js';
import { freeSaved, type GradNode } from './node.js';
import { addInto, cloneTensor, onesLike } from './grad-math.js';

export interface BackwardOptions {
  /** Gradient of the root; defaults to ones (a scalar loss). */
  gradient?: Tensor;
  /** Keep saved tensors so backward can run again through the same graph. */
  retainGraph?: boolean;
}

export function backward(root: Tensor, options: BackwardOptions = {}): void {
  root.assertLive('backward');
  if (!root.requiresGrad) {
    throw new Error(`backward: ${root.describe()} does not require grad (no input of the ops that made it requires grad, or it was computed under noGrad)`);
  }
  if (!options.gradient && root.size !== 1) {
    throw new Error(`backward: ${root.describe()} is not a scalar; pass { gradient } with its shape`);
  }
  if (options.gradient && !sameShape(options.gradient.shape, root.shape)) {
    throw new Error(`backward: gradient shape ${formatShape(options.gradient.shape)} does not match ${root.describe()}`);
  }
  noGrad(() => {
    const seed = options.gradient ? cloneTensor(options.gradient) : onesLike(root);
    keep(seed);
    if (!root.gradFn) {
      accumulateLeaf(root, seed, 'backward');
      return;
    }
    run(root.gradFn, seed, options.retainGraph ?? false);
  });
}

function run(rootNode: GradNode, seed: Tensor, retainGraph: boolean): void {
  // Count, for every reachable node, how many edges point at it.
  const pending = new Map<GradNode, number>();
  const stack = [rootNode];
  pending.set(rootNode, 0);
  while (stack.length) {
    const node = stack.pop()!;
    if (!node.backward) {
      throw new Error(`backward: the graph through "${node.op}" was already freed; pass { retainGraph: true } to the first backward() to run it twice`);
    }
    for (const edge of node.edges) {
      if (!edge?.node) continue;
      const seen = pending.has(edge.node);
      pending.set(edge.node, (pending.get(edge.node) ?? 0) + 1);
      if (!seen) stack.push(edge.node);
    }
  }

  const grads = new Map<GradNode, Tensor>([[rootNode, seed]]);
  const ready = [rootNode];
  while (ready.length) {
    const node = ready.pop()!;
    const grad = grads.get(node)!;
    grads.delete(node);
    const needs = node.edges.map((e) => e !== null);
    // tidy: temporaries of the backward closure are freed; what it returns is kept.
    const inputGrads = tidy(() => node.backward!(grad, node.saved, needs));
    if (!retainGraph) freeSaved(node);

    const handedOut = new Set<Tensor>();
    node.edges.forEach((edge, i) => {
      if (!edge) return;
      let g = inputGrads[i];
      if (!g) throw new Error(`backward: "${node.op}" returned no gradient for input ${i}, which requires one`);
      const meta = node.inputMeta[i]!;
      if (!sameShape(g.shape, meta.shape)) {
        throw new Error(`backward: "${node.op}" returned a gradient of shape ${formatShape(g.shape)} for input ${i} of shape ${formatShape(meta.shape)}`);
      }
      // The same tensor may be returned for several inputs (add) or be the incoming grad:
      // each destination gets its own handle, and in-place accumulation only ever happens
      // on storage a destination owns alone (see accumulateLeaf / accumulateNode).
      g = g === grad || handedOut.has(g) ? g.alias() : g;
      handedOut.add(inputGrads[i]!);
      if (edge.leaf) {
        accumulateLeaf(edge.leaf, g, node.op);
      } else {
        accumulateNode(grads, edge.node, g);
        const left = pending.get(edge.node)! - 1;
        pending.set(edge.node, left);
        if (left === 0) ready.push(edge.node);
      }
    });
    // Dispose what backward created and nobody took: the incoming grad and unused results.
    grad.dispose();
    for (const g of inputGrads) if (g && !handedOut.has(g)) g.dispose();
  }
}

function accumulateNode(grads: Map<GradNode, Tensor>, node: GradNode, g: Tensor): void {
  const previous = grads.get(node);
  if (!previous) {
    grads.set(node, g);
    return;
  }
  grads.set(node, addInto(previous, g));
  g.dispose();
}

function accumulateLeaf(leaf: Tensor, g: Tensor, op: string): void {
  if (leaf.isDisposed) {
    g.dispose();
    throw new Error(`backward: ${leaf.describe()} was disposed before backward reached it (through "${op}")`);
  }
  keep(g);
  if (!leaf.grad) {
    // A gradient sharing storage with anything else is copied, so that the next in-place
    // accumulation cannot change another tensor.
    if (storageRefCount(g.storage) > 1 || !g.isContiguous() || g.dtype !== leaf.dtype) {
      const owned = keep(cloneTensor(g, leaf.dtype));
      g.dispose();
      g = owned;
    }
    leaf.grad = g;
    return;
  }
  leaf.grad = addInto(leaf.grad, g);
  g.dispose();
}

declare module '../tensor.js' {
  interface Tensor {
    /** Computes gradients of this tensor with respect to every leaf that requires grad. */
    backward(options?: BackwardOptions): void;
  }
}

Tensor.prototype.backward = function (this: Tensor, options?: BackwardOptions) {
  backward(this, options);
};
