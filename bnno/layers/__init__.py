"""Keras layers shared across bnno: by model files, by quantizers' export rewrites and by
the inference rewrite of ``bnno.deploy``.

What belongs here: model-building helpers (``common``: PyTorch-style batch norm, batch
or layer norm, a max pool for any input size), padding as PyTorch pads (``padding``) and
the binary convolution LCE bit-packs (``sign_conv``). Layers of one paper's models stay
with those models (``bnno.models.bnext_layers``).
"""
