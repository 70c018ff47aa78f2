// In progress: the index-ops ops are being written.
export {};
