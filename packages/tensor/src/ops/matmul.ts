// In progress: the matmul ops are being written.
export {};
