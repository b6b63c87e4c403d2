"""Drop-in max-pooling layers for other frameworks, one small module each.

``pooling.layers.tinyml`` and ``pooling.layers.torch`` are thin adapters over
the same kernels; each imports its framework only when it is itself imported,
so ``import pooling`` never needs either.
"""
