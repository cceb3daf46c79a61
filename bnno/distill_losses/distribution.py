"""The ``distribution`` distillation loss: ReActNet's distributional loss (the official
``DistributionLoss``, liuzechun/ReActNet ``utils/KD_loss.py``; AdamBNN's and CEMA's
copies are the same).

The soft cross-entropy of the student's logits to the teacher's softmax, at
temperature 1, averaged over the batch, with no label term:
``mean_b[−Σ_c softmax(z_t)_c · log_softmax(z_s)_c]``. The official code computes it as
``−bmm(softmax(teacher), log_softmax(student))`` per sample and refuses a teacher output
that requires gradients; here the teacher's probabilities are held constant
(``stop_gradient``). The official training scripts train on this loss alone (their
label-smoothing loss is built but unused) with torchvision's pretrained ResNet-34 as the
teacher, run in evaluation mode on the student's augmented batch. With more than one
teacher (bnno's assistants) the loss is the mean of each teacher's.

Example:
    >>> import tensorflow as tf
    >>> student = tf.constant([[2.0, 0.0], [0.0, 0.0]])
    >>> teacher = tf.constant([[0.0, 0.0], [5.0, 5.0]])
    >>> round(float(distribution_loss(student, teacher)), 5)  # mean of ln(1+e²) − 1, ln 2
    0.91004
"""

from __future__ import annotations

import tensorflow as tf

from bnno.distill_losses.registry import register


def distribution_loss(student_logits, teacher_logits):
    """The batch mean of the soft cross-entropy of ``student_logits`` to the softmax of
    ``teacher_logits`` (both of shape (batch, classes)); no gradient reaches the teacher.

    Example:
        >>> logits = tf.constant([[1.0, 2.0, 3.0]])
        >>> round(float(distribution_loss(logits, logits)), 5)  # the entropy of the softmax
        0.8324
    """
    teacher = tf.stop_gradient(tf.nn.softmax(tf.cast(teacher_logits, tf.float32), axis=-1))
    log_student = tf.nn.log_softmax(tf.cast(student_logits, tf.float32), axis=-1)
    return tf.reduce_mean(-tf.reduce_sum(teacher * log_student, axis=-1))


@register("distribution")
def distribution(student_logits, teacher_logits: list):
    """``distribution_loss`` to each teacher of the list, averaged over the teachers.

    Example:
        >>> logits = tf.constant([[1.0, 2.0, 3.0]])
        >>> round(float(distribution(logits, [logits, logits])), 5)
        0.8324
    """
    return tf.add_n([distribution_loss(student_logits, t) for t in teacher_logits]) / len(
        teacher_logits)
