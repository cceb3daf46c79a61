"""Consecutive knowledge distillation as a training mode for any model: a student learns
from a main teacher and from assistant teachers taken in turn.

``teachers`` names a sequence (``bnno.config.teachers``): the last entry is the main
teacher, the ones before it are assistants; training is cut into as many equal phases as
there are assistants, and phase ``k`` (epoch ``e`` is in phase ``⌊e / (epochs / n)⌋``)
learns from the pair (assistant ``k``, main). A teacher is the output dir of an earlier
bnno run, a registered bnno model (``efficientnet_b0``: bnno's model of timm's
architecture, the one BNext's official trainer distils from) with the weights
``teacher_weights`` gives it (a checkpoint file read as ``bnno import`` reads it, a run
dir, or ``none``), or a Keras application under its own name (``keras_efficientnet_b0``;
ImageNet weights with ``teacher_weights=imagenet`` when Keras finds them in its cache).

The loss is the recipe's ``distill_loss`` (``bnno.distill_losses``), by default
``consecutive``: for each active teacher ``t``, the soft-target cross entropy at
temperature 1, ``L_t = mean_b[−Σ_c softmax(z_t)·log_softmax(z_s)]``; per sample, the
weights ``α_{b,t}`` are the softmax over teachers of each teacher's per-sample cross
entropy (no gradient through them); the loss is ``Σ_t mean_b(α_{b,t})·L_t / 2`` (the
weighted batch means averaged over the pair of teachers, as the method's code does).
Labels do not enter the loss; they only feed the accuracy metrics. Teachers run in inference mode on
the student's augmented batch, outside the gradient tape. Their cost shows as
``teacher_s`` in the progress bar and the metrics log: the seconds the active teachers
take for one batch, timed at the start of every phase (a timer inside the training step
is refused when a seeded run enables op determinism).

Example:
    Wrap a student ``model`` for 512 epochs at batch size 512 with EfficientNet-B0 as the
    assistant and EfficientNet-B2 as the main teacher (timm's weights files);
    ``switch`` is the callback that sets the phase::

        net, switch = distiller(model, "efficientnet_b0+efficientnet_b2",
                                "efficientnet_b0_ra-3dd342df.pth+efficientnet_b2_ra-bcdf34b7.pth",
                                512, 512)
"""

from __future__ import annotations

import time
from pathlib import Path

import tensorflow as tf

from bnno import distill_losses
from bnno.config.teachers import KERAS, Teacher, resolve
from bnno.distill_losses.consecutive import (  # noqa: F401  (their home before the registry)
    distillation_loss,
    soft_cross_entropy,
)
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


def load_teacher(teacher: Teacher, input_shape: tuple, num_classes: int,
                 normalized: bool = False) -> tf.keras.Model:
    """``teacher`` (``bnno.config.teachers``) as a frozen model giving logits for the
    student's input.

    A bnno model or a run's model gets the student's batch as it is, as BNext's trainer
    feeds its teachers (timm's models there, ImageNet-normalised like the student's
    images). A Keras application takes 0–255 pixels and rescales them itself; bnno's
    pipelines give the student images in [-1, 1], or normalised by ImageNet's channel mean
    and deviation (``normalized``), so it gets the pixels back.

    Raises:
        BnnoError: a weights file that is missing (a source's file not on this machine)
            or does not fit its model or has another class count than the student, or
            Keras weights that cannot be loaded.

    Example:
        An untrained EfficientNet-B0 (bnno's, timm's architecture) and a run's model::

            teacher = load_teacher(Teacher("efficientnet_b0", "model", "none"),
                                   (224, 224, 3), 1000)
            teacher = load_teacher(Teacher("runs/teacher-x", "run"), (224, 224, 3), 1000)
    """
    if teacher.kind == "keras":
        net = _keras_teacher(teacher, input_shape, num_classes, normalized)
    elif teacher.kind == "run" or Path(teacher.weights or "").joinpath("run.json").is_file():
        from bnno.config import stored
        from bnno.training.loading import load_trained

        path = Path(teacher.name if teacher.kind == "run" else teacher.weights)
        net = logits_of(load_trained(path, stored.read(path), input_shape, num_classes,
                                     flip_ratio=False)[0])
    else:
        net = logits_of(_model_teacher(teacher, input_shape, num_classes))
    net.trainable = False
    return net


def _model_teacher(teacher: Teacher, input_shape: tuple, num_classes: int) -> tf.keras.Model:
    """A bnno model as a teacher: random weights, or a checkpoint file read as ``bnno
    import`` reads it (the model's importer, the reader of the file's content)."""
    from bnno import models

    entry = models.get_entry(teacher.name)
    if teacher.weights == "none":
        return entry.build(tuple(input_shape), num_classes)
    from bnno.checkpoints.files import load
    from bnno.checkpoints.registry import get as importer_of
    from bnno.checkpoints.registry import source, sources, state_dict

    file = Path(teacher.weights)
    if teacher.weights in sources(entry.name):
        file = source(teacher.weights, entry.name)  # where that source keeps its file
    mapping = importer_of(entry.name)(state_dict(load(file)), entry.name)
    if mapping.num_classes != num_classes:
        raise BnnoError(f"teacher {teacher.name}'s checkpoint {file} has "
                        f"{mapping.num_classes} classes, the student {num_classes}")
    net = entry.build(tuple(input_shape), num_classes, **mapping.hparams)
    mapping.assign(net)
    return net


def _keras_teacher(teacher: Teacher, input_shape: tuple, num_classes: int,
                   normalized: bool) -> tf.keras.Model:
    app = getattr(tf.keras.applications, KERAS[teacher.name])
    weights = None if teacher.weights == "none" else teacher.weights
    try:
        net = app(weights=weights, input_shape=input_shape, classes=num_classes,
                  classifier_activation=None)
    except Exception as e:  # download refused, wrong classes for ImageNet weights
        raise BnnoError(f"cannot load teacher {teacher.name} with weights={weights}: {e}. Put "
                        "the weights file in Keras' cache (~/.keras/models) or set "
                        "teacher_weights=none") from None
    image = tf.keras.Input(input_shape)
    if normalized:
        from bnno.data.preprocessing import IMAGENET_MEAN, IMAGENET_STD

        pixels = tf.keras.layers.Normalization(mean=IMAGENET_MEAN, variance=[
            s * s for s in IMAGENET_STD], invert=True)(image)
    else:
        pixels = tf.keras.layers.Rescaling(127.5, 127.5)(image)
    return tf.keras.Model(image, net(pixels))


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
        >>> any("teacher_phase" in w.name for w in net.weights)  # weights: the student's
        False
    """

    def __init__(self, student: tf.keras.Model, teachers: list[tf.keras.Model],
                 loss: str = "consecutive", **kwargs):
        super().__init__(student.inputs, student.outputs, name=student.name, **kwargs)
        self._distill_loss = distill_losses.get(loss)
        self._frozen = _Frozen(logits=logits_of(self), assistants=teachers[:-1],
                               main=teachers[-1])
        # Not a weight of the model: the weights file stays the student's (the phase is
        # set again at the start of every epoch).
        self._frozen.phase = tf.Variable(0, trainable=False, dtype=tf.int64,
                                         name="teacher_phase")
        self.distill_loss = tf.keras.metrics.Mean(name="distill_loss")

    @property
    def phase(self) -> tf.Variable:
        """The index of the assistant teaching now (``PhaseCallback`` sets it)."""
        return self._frozen.phase

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
            loss = self._distill_loss(logits, teachers)
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
              batch_size: int, normalized: bool = False,
              loss: str = "consecutive") -> tuple[Distiller, PhaseCallback]:
    """Wrap ``student`` for distillation from ``teachers`` with ``weights`` (the
    ``teachers`` and ``teacher_weights`` of a recipe) and the distillation ``loss``
    (``bnno.distill_losses``); also the phase callback.

    Raises:
        BnnoError: a teacher that cannot be loaded (``load_teacher``), such as timm's
            weights (``teacher_weights=timm``) that are not on this machine.

    Example:
        EfficientNet-B0 teaches the first half of 512 epochs and EfficientNet-B4 the
        second, EfficientNet-B2 is the main teacher throughout, with timm's weights::

            net, callback = distiller(student, "efficientnet_b0+efficientnet_b4+"
                                      "efficientnet_b2", "b0.pth+b4.pth+b2.safetensors",
                                      512, 512)
    """
    found = resolve(teachers, weights)
    shape, classes = tuple(student.input_shape[1:]), student.output_shape[-1]
    models = [load_teacher(t, shape, classes, normalized) for t in found]
    return Distiller(student, models, loss), PhaseCallback(epochs, len(found) - 1, batch_size)
