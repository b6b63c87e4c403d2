"""Drop-in pooling layers for other frameworks, one small module each.

``pooling.layers.tinyml`` and ``pooling.layers.torch`` are thin adapters over
the same kernels, and ``pooling.layers.autograd`` exposes the pooling
functions as HIPS autograd primitives (``autograd.grad`` through them, with
pooling's own backward functions); each imports its framework only when it
is itself imported, so ``import pooling`` never needs any of them.
"""
