"""Consecutive knowledge distillation as a training mode for any model: a student learns
from a main teacher and from assistant teachers taken in turn.

``teachers`` names a sequence (``bnno.config.teachers``): the last entry is the main
teacher, the ones before it are assistants; training is cut into as many equal phases as
there are assistants, and phase ``k`` (epoch ``e`` is in phase ``⌊e / (epochs / n)⌋``)
learns from the pair (assistant ``k``, main). A teacher is a Keras application
(``efficientnet_b0``, ``efficientnet_b2``, ``efficientnet_b4``, ``convnext_tiny``;
ImageNet weights with ``teacher_weights=imagenet`` when Keras finds them in its cache)
or the output dir of an earlier bnno run.

The loss, for each active teacher ``t``, is the soft-target cross entropy at temperature
1, ``L_t = mean_b[−Σ_c softmax(z_t)·log_softmax(z_s)]``; per sample, the weights
``α_{b,t}`` are the softmax over teachers of each teacher's per-sample cross entropy (no
gradient through them); the loss is ``Σ_t mean_b(α_{b,t})·L_t / 2`` (the weighted batch
means averaged over the pair of teachers, as the method's code does). Labels do not
enter the loss; they only feed the accuracy metrics. Teachers run in inference mode on
the student's augmented batch, outside the gradient tape. Their cost shows as
``teacher_s`` in the progress bar and the metrics log: the seconds the active teachers
take for one batch, timed at the start of every phase (a timer inside the training step
is refused when a seeded run enables op determinism).

Example:
    Wrap a student ``model`` for 512 epochs at batch size 512 with EfficientNet-B0 as the
    assistant and EfficientNet-B2 as the main teacher; ``switch`` is the callback that
    sets the phase::

        net, switch = distiller(model, "efficientnet_b0+efficientnet_b2", None, 512, 512)
"""

from __future__ import annotations

import time
from pathlib import Path

import tensorflow as tf

from bnno.config.teachers import APPLICATIONS, parse
from bnno.errors import BnnoError


def phase(epoch: int, epochs: int, assistants: int) -> int:
    """Index of the assistant teaching in ``epoch`` (0-based): equal fractions of the run.

    Example:
        >>> [phase(e, 512, 3) for e in (0, 170, 171, 341, 342, 511)]
        [0, 0, 1, 1, 2, 2]
    """
    if assistants <= 1:
        return 0
    return min(int(epoch // (epochs / assistants)), assistants - 1)


def logits_of(model: tf.keras.Model) -> tf.keras.Model:
    """A model sharing ``model``'s layers whose output is the logits.

    Models ending in a ``softmax`` activation layer give that layer's input; a model
    whose last dense layer has a softmax inside gives the log of its probabilities
    (equal to the logits up to a per-sample constant, which softmax ignores).

    Example:
        >>> model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(3),
        ...                              tf.keras.layers.Activation("softmax")])
        >>> logits_of(model).output_shape
        (None, 3)
        >>> logits_of(model).layers[-1] is model.layers[0]
        True
    """
    last = model.layers[-1]
    if isinstance(last, tf.keras.layers.Activation) and \
            tf.keras.activations.serialize(last.activation) == "softmax":
        return tf.keras.Model(model.inputs, last.input)
    log_p = tf.math.log(tf.clip_by_value(model.outputs[0], 1e-12, 1.0))
    return tf.keras.Model(model.inputs, log_p)


def soft_cross_entropy(teacher_logits, student_logits):
    """Per-sample ``−Σ_c softmax(teacher)_c · log_softmax(student)_c``.

    Example:
        >>> round(float(soft_cross_entropy(tf.zeros((1, 2)), tf.zeros((1, 2)))[0]), 4)
        0.6931
    """
    return -tf.reduce_sum(tf.nn.softmax(teacher_logits) * tf.nn.log_softmax(student_logits),
                          axis=-1)


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


def load_teacher(name: str, input_shape: tuple, num_classes: int, weights: str | None,
                 normalized: bool = False) -> tf.keras.Model:
    """Teacher ``name`` as a frozen model giving logits for the student's input.

    Keras applications take 0–255 pixels and rescale them themselves; bnno's pipelines
    give the student images in [-1, 1], or normalised by ImageNet's channel mean and
    deviation (``normalized``), so the teacher gets the pixels back.

    Example:
        An untrained EfficientNet-B0 for ImageNet-sized inputs, or the model of an earlier
        bnno run (the run's output dir as the name)::

            teacher = load_teacher("efficientnet_b0", (224, 224, 3), 1000, None)
            teacher = load_teacher("runs/teacher-imagenet-x", (224, 224, 3), 1000, None)
    """
    if name in APPLICATIONS:
        app = getattr(tf.keras.applications, APPLICATIONS[name])
        try:
            net = app(weights=weights, input_shape=input_shape, classes=num_classes,
                      classifier_activation=None)
        except Exception as e:  # download refused, wrong classes for ImageNet weights
            raise BnnoError(f"cannot load teacher {name} with weights={weights}: {e}. Put "
                            "the weights file in Keras' cache (~/.keras/models) or set "
                            "teacher_weights=none") from None
        image = tf.keras.Input(input_shape)
        if normalized:
            from larq_zoo.training.data import MEAN_RGB, STDDEV_RGB

            pixels = tf.keras.layers.Normalization(mean=MEAN_RGB, variance=[
                s * s for s in STDDEV_RGB], invert=True)(image)
        else:
            pixels = tf.keras.layers.Rescaling(127.5, 127.5)(image)
        teacher = tf.keras.Model(image, net(pixels))
    else:
        from bnno.config import stored
        from bnno.training.loading import load_trained

        config = stored.read(Path(name))
        net = load_trained(Path(name), config, input_shape, num_classes, flip_ratio=False)[0]
        teacher = logits_of(net)
    teacher.trainable = False
    return teacher


class _Frozen:
    """Holds models Keras must not track as part of the student (teachers, logits
    view): the student's checkpoints and weight files stay those of the student alone."""

    def __init__(self, **models):
        self.__dict__.update(models)


class Distiller(tf.keras.Model):
    """The student's functional graph with a distillation ``train_step``.

    Weights, checkpoints, evaluation and prediction are the student's; only training
    differs. ``phase`` (a variable) selects the assistant; ``PhaseCallback`` sets it.

    Example:
        >>> def dense(activation=None):
        ...     return tf.keras.Sequential([tf.keras.Input((4,)),
        ...                                 tf.keras.layers.Dense(3, activation=activation)])
        >>> student = dense("softmax")
        >>> net = Distiller(student, [dense(), dense()])  # an assistant, the main teacher
        >>> net.output_shape, int(net.phase.numpy())
        ((None, 3), 0)
        >>> net.trainable_weights == student.trainable_weights
        True
    """

    def __init__(self, student: tf.keras.Model, teachers: list[tf.keras.Model], **kwargs):
        super().__init__(student.inputs, student.outputs, name=student.name, **kwargs)
        self._frozen = _Frozen(logits=logits_of(self), assistants=teachers[:-1],
                               main=teachers[-1])
        self.phase = tf.Variable(0, trainable=False, dtype=tf.int64, name="teacher_phase")
        self.distill_loss = tf.keras.metrics.Mean(name="distill_loss")

    def _teacher_logits(self, x) -> list:
        frozen = self._frozen
        if not frozen.assistants:
            return [frozen.main(x, training=False)]
        branches = [lambda t=t: t(x, training=False) for t in frozen.assistants]
        assistant = branches[0]() if len(branches) == 1 else \
            tf.switch_case(tf.cast(self.phase, tf.int32), branches)
        return [assistant, frozen.main(x, training=False)]

    def teacher_seconds(self, batch_size: int, repeats: int = 2) -> float:
        """Seconds the active teachers take for one batch (median of ``repeats``).

        Example:
            >>> def dense():
            ...     return tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(3)])
            >>> net = Distiller(dense(), [dense()])
            >>> net.teacher_seconds(8) > 0
            True
        """
        x = tf.zeros((batch_size, *self.input_shape[1:]))
        run = tf.function(self._teacher_logits)
        run(x)  # traced and warmed up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            [t.numpy() for t in run(x)]
            times.append(time.perf_counter() - start)
        return sorted(times)[len(times) // 2]

    def train_step(self, data):
        x, y = data[0], data[1]
        teachers = [tf.stop_gradient(t) for t in self._teacher_logits(x)]
        with tf.GradientTape() as tape:
            logits = self._frozen.logits(x, training=True)
            loss = distillation_loss(logits, teachers)
            if self.losses:
                loss += tf.add_n(self.losses)
        self.optimizer.minimize(loss, self.trainable_variables, tape=tape)
        self.distill_loss.update_state(loss)
        self.compiled_metrics.update_state(y, tf.nn.softmax(logits))
        # The compiled (label) loss is not computed in training; "loss" is the
        # distillation loss averaged over the epoch so far.
        logs = {m.name: m.result() for m in self.metrics
                if m.name not in ("loss", "distill_loss")}
        return {"loss": self.distill_loss.result(), **logs}

    def test_step(self, data):
        # Evaluation is the student's alone: its label loss and metrics.
        logs = super().test_step(data)
        logs.pop("distill_loss", None)
        return logs


class PhaseCallback(tf.keras.callbacks.Callback):
    """Switch the assistant teacher at the start of every epoch (resumed runs included)
    and report the teachers' seconds per batch as ``teacher_s``.

    Example:
        Two assistants over 6 epochs: the second teaches from epoch 3 on.

        >>> def dense():
        ...     return tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(3)])
        >>> net = Distiller(dense(), [dense(), dense(), dense()])
        >>> callback = PhaseCallback(epochs=6, assistants=2, batch_size=8)
        >>> callback.set_model(net)
        >>> callback.on_epoch_begin(3)
        >>> int(net.phase.numpy())
        1
        >>> logs = {}
        >>> callback.on_epoch_end(3, logs)
        >>> logs["teacher_s"] > 0
        True
    """

    def __init__(self, epochs: int, assistants: int, batch_size: int):
        super().__init__()
        self.epochs, self.assistants, self.batch_size = epochs, assistants, batch_size
        self.seconds: dict[int, float] = {}

    def on_epoch_begin(self, epoch, logs=None):
        k = phase(epoch, self.epochs, self.assistants)
        self.model.phase.assign(k)
        if k not in self.seconds:
            self.seconds[k] = self.model.teacher_seconds(self.batch_size)
        self.current = self.seconds[k]

    def on_train_batch_end(self, batch, logs=None):
        if logs is not None:
            logs["teacher_s"] = self.current

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["teacher_s"] = self.current


def distiller(student: tf.keras.Model, teachers: str, weights: str | None, epochs: int,
              batch_size: int, normalized: bool = False) -> tuple[Distiller, PhaseCallback]:
    """Wrap ``student`` for distillation from ``teachers``; also the phase callback.

    Example:
        EfficientNet-B0 teaches the first half of 512 epochs and EfficientNet-B4 the
        second, EfficientNet-B2 is the main teacher throughout::

            net, callback = distiller(student, "efficientnet_b0+efficientnet_b4+"
                                      "efficientnet_b2", None, 512, 512)
    """
    names = parse(teachers)
    shape, classes = tuple(student.input_shape[1:]), student.output_shape[-1]
    models = [load_teacher(n, shape, classes, weights, normalized) for n in names]
    return Distiller(student, models), PhaseCallback(epochs, len(names) - 1, batch_size)
