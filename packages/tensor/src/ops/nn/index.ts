// In progress: the nn ops are being written.
export {};
