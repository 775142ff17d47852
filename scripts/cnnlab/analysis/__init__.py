"""Pure functions of models and tensors, no file I/O: filters, activations, receptive fields,
the layer table and the comparison's maths."""
