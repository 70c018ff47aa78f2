// In progress: the nf4 ops are being written.
export {};
