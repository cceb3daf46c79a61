"""Training: everything between resolved hparams and a finished run directory.

What belongs here: the trainer (``train``: train, evaluate), building and compiling a
model for its optimizer (``build``), the Keras callbacks of a run (``callbacks``,
``flips``), distillation as a training mode (``distill``), ``tf.distribute`` strategies
(``distribute``), loading a trained model back (``loading``) and making a run of a
foreign checkpoint (``importing``, ``bnno import``).

Nothing here knows a paper: models, quantizers and optimizers come from their
registries, what a quantizer needs during training (a temperature, a schedule) from its
own epoch hook, recipes from the hparam sets through a run's config (``bnno.config``).
The Python entry points are re-exported by ``bnno.train``.
"""
