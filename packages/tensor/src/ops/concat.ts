// In progress: the concat ops are being written.
export {};
