"""The Keras optimizer classes bnno's optimizers build where Keras has none that fits.

``legacy_adam``: Adam with PyTorch's ε; ``legacy_adamw``: AdamW with two decay groups;
``lr_scaling``: BinaryNet's per-kernel step scaling. They import TensorFlow, so only the
builders in ``bnno.optimizers`` import them, when they run: importing ``bnno.optimizers``
(which ``bnno.hparams`` does for the registered names and keys) stays free of it.
"""
