// In progress: the elementwise ops are being written.
export {};
