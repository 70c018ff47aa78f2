// In progress: the optim ops are being written.
export {};
