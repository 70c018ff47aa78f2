/**
 * The k-th largest value of a row (the top-k threshold). For the small k of sampling, a min-heap
 * of the k best values seen: most logits are rejected by one comparison with the heap's top,
 * so a 32,000-token row costs one pass. Large k sorts a copy (natively) instead.
 */
export function kthLargest(values: Float32Array, k: number): number {
  const n = values.length;
  if (k < 1 || k > n) throw new RangeError(`kthLargest: k is ${k}, expected 1..${n}`);
  if (k > 1024) return Float32Array.from(values).sort()[n - k]!;
  // heap[0] is the smallest of the k largest values so far.
  const heap = new Float32Array(k);
  for (let i = 0; i < k; i++) heap[i] = values[i]!;
  heap.sort();
  for (let i = k; i < n; i++) {
    const v = values[i]!;
    if (!(v > heap[0]!)) continue;
    // Replace the top and sift it down.
    let at = 0;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= k) break;
      const right = left + 1;
      const child = right < k && heap[right]! < heap[left]! ? right : left;
      if (!(heap[child]! < v)) break;
      heap[at] = heap[child]!;
      at = child;
    }
    heap[at] = v;
  }
  return heap[0]!;
}
