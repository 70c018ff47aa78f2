// In progress: the reduce ops are being written.
export {};
