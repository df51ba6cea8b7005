"""Run directories: config, metrics, checkpoints, final policy."""
