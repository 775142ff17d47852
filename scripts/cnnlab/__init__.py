"""cnnlab: train, inspect and report on CNNs."""
