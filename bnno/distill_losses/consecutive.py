"""The ``consecutive`` distillation loss: soft-target cross entropies to the active
teachers, weighted per sample (BNext's consecutive distillation, ``bnno.training.distill``).

For each active teacher ``t``, ``L_t = mean_b[−Σ_c softmax(z_t)·log_softmax(z_s)]`` at
temperature 1; per sample, the weights ``α_{b,t}`` are the softmax over teachers of each
teacher's per-sample cross entropy (no gradient through them); the loss is
``Σ_t mean_b(α_{b,t})·L_t / 2`` (the weighted batch means averaged over the pair of
teachers, as the method's code does). With one teacher that is half its cross entropy.

Example:
    >>> import tensorflow as tf
    >>> zeros = tf.zeros((2, 3))
    >>> round(float(distillation_loss(zeros, [zeros])), 4)  # ln 3 / 2
    0.5493
"""

from __future__ import annotations

import tensorflow as tf

from bnno.distill_losses.registry import register


def soft_cross_entropy(teacher_logits, student_logits):
    """Per-sample ``−Σ_c softmax(teacher)_c · log_softmax(student)_c``.

    Example:
        >>> round(float(soft_cross_entropy(tf.zeros((1, 2)), tf.zeros((1, 2)))[0]), 4)
        0.6931
    """
    return -tf.reduce_sum(tf.nn.softmax(teacher_logits) * tf.nn.log_softmax(student_logits),
                          axis=-1)


@register("consecutive")
def distillation_loss(student_logits, teacher_logits: list):
    """The distillation loss of the active teachers' logits (see the module docstring).

    Example:
        Every logit 0 over 3 classes: each teacher's cross entropy is ln 3, each weight
        1/2, so the loss is (ln 3 / 2 + ln 3 / 2) / 2:

        >>> zeros = tf.zeros((2, 3))
        >>> round(float(distillation_loss(zeros, [zeros, zeros])), 4)
        0.5493
    """
    per_sample = tf.stack([soft_cross_entropy(t, student_logits) for t in teacher_logits],
                          axis=1)  # (batch, teachers)
    alpha = tf.stop_gradient(tf.nn.softmax(per_sample, axis=1))
    batch_means = tf.reduce_mean(per_sample, axis=0)
    return tf.reduce_sum(tf.reduce_mean(alpha, axis=0) * batch_means) / 2.0
