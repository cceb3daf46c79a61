"""Training: everything between resolved hparams and a finished run directory.

What belongs here: the trainer (``train``: plan, train, evaluate), building and
compiling a model for its optimizer (``build``), the Keras callbacks of a run
(``callbacks``, ``flips``, ``temperature``), distillation as a training mode
(``distill``), ``tf.distribute`` strategies (``distribute``), run directories and
loading a trained model back (``runs``, ``loading``).

Nothing here knows a paper: models, quantizers and optimizers come from their
registries, recipes from the hparam sets. The Python entry points are re-exported by
``bnno.train``.
"""
