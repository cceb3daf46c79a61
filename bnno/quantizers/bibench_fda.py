"""BiBench's FDA binarizer (Qin et al., ICML 2023; official code htqin/BiBench).

``bibench/models/layers/fda.py`` (``FDA_BinaryQuantize``, ``NoiseAdaption``,
``NoiseAdaption_a``, ``FDAConv2d``):

* both sides binarize with sign in the forward pass and, in the backward pass, the
  Fourier-series gradient ``(4ω/π)·Σ_{i=0}^{n} cos((2i + 1)·ω·x)·g`` with ω = 0.1, set to 0
  where |x| > 1 (|x| = 1 keeps it);
* noise adaptation (``noise_adapt``, on by default as in the official layer): the
  binarized value gets ``α·(MLP(x) + 0.1·sin(x))`` added, with ``MLP(v) = fc2(relu(fc1(v)))``
  (no biases, hidden width ``d // 64``, PyTorch's default ``nn.Linear`` initialisation
  U(±1/√fan_in)). For weights the MLP runs on each output channel's flattened filter
  (``d`` = input channels × kernel height × width, in PyTorch's order) and is trained; for
  activations it runs on each position's channels (``d`` = channels). The official layer
  creates the activation MLP in its first forward pass, after the optimizer has been built,
  so its weights never train: here they are non-trainable. A hidden width of 0 (``d`` < 64)
  gives an MLP whose output is 0, as PyTorch's zero-size ``nn.Linear`` does;
* weights are then multiplied by ``mean |w|`` per output channel, held constant;
* the schedule (``model_params_update``, run before every epoch): ``α = 0.05·(1 +
  cos(π·(epoch + 1) / epochs))`` in float32 (it starts at 0.1 before the hook first runs
  and is exactly 0 at the last epoch) and ``n = 9 + int(epoch / epochs · 9)``. Here
  ``on_epochs_done(epochs_done, epochs)`` sets them; after the last epoch they keep the last
  epoch's values (α = 0), as the official state does. Both are variables of the quantizer,
  so checkpoints carry them.

Registered names (kind, export):

* ``bibench_fda_activation``: kind "other" (sign + α·noise while α > 0; "sign" with
  ``noise_adapt=False`` or once α = 0), export "rewrite": once α = 0 the noise term is 0
  and the input is larq's sign, which LCE bit-packs; its hook ``lce_rewrite`` then gives
  the layer on larq's sign (``bnno.layers.sign_conv.SignConv``). While α ≠ 0 (a run
  stopped before the end of its schedule) the hook leaves the layer in float, and export
  refuses it;
* ``bibench_fda_weight``: kind "other" ("scaled" without noise or once α = 0), export
  "binary": once α = 0 the inference rewrite folds it into a constant ±mean|w| kernel per
  output channel (``bnno.deploy.inference``, which refuses a kernel tagged binary that is
  not ±α per output channel, as it is while α ≠ 0).

sign(0) = +1 (larq's) where PyTorch's sign gives 0, as in ``bnno.quantizers.bibench_bnn``.

Example:
    >>> q = BiBenchFdaActivation(noise_adapt=False)
    >>> x = tf.constant([[-0.5, 0.5, 1.5]])
    >>> with tf.GradientTape() as tape:
    ...     tape.watch(x)
    ...     y = q(x)
    >>> y.numpy().tolist()
    [[-1.0, 1.0, 1.0]]
    >>> [round(v, 4) for v in tape.gradient(y, x).numpy().ravel().tolist()]  # n = 9
    [1.0718, 1.0718, 0.0]
"""

from __future__ import annotations

import larq as lq
import numpy as np
import tensorflow as tf

from bnno.layers.mirrored import MirroredQuantConv2D
from bnno.layers.sign_conv import Rewrite, SignConv
from bnno.quantizers.bibench_recu import EpochSchedule
from bnno.quantizers.bibench_xnor import channel_scale, layer_values, plain_binary_layer
from bnno.quantizers.registry import register

OMEGA = 0.1
TERMS = 9  # the official buffer n before the schedule first sets it
NOISE_SCALE = 0.1  # the official buffer α before the schedule first sets it
REDUCTION = 64  # the hidden width of the noise MLPs is d // 64


def torch_linear_init() -> tf.keras.initializers.Initializer:
    """PyTorch's default ``nn.Linear`` weights, U(±1/√fan_in), for a (fan_in, fan_out) kernel.

    Example:
        >>> w = torch_linear_init()((100, 3))
        >>> bool(tf.reduce_max(tf.abs(w)) <= 0.1)
        True
    """
    return tf.keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform")


def fda_noise_scale(epoch: int, epochs: int) -> float:
    """The official α before (0-based) epoch ``epoch`` of ``epochs``, in float32.

    Example:
        >>> round(fda_noise_scale(0, 2), 6), fda_noise_scale(1, 2)
        (0.05, 0.0)
    """
    angle = np.float32((epoch + 1) / epochs) * np.float32(np.pi)
    # The cosine rounded once to float32. PyTorch's float32 cosine is sometimes one ulp off
    # that; near π, 1 + cos cancels, so α can then differ by ~3e-9 (1e-5 relative).
    cosine = np.float32(np.cos(np.float64(angle)))
    return float(np.float32(0.05) * (np.float32(1) + cosine))


def fda_terms(epoch: int, epochs: int) -> int:
    """The official n before (0-based) epoch ``epoch`` of ``epochs``.

    Example:
        >>> fda_terms(0, 200), fda_terms(199, 200)
        (9, 17)
    """
    return 9 + int(epoch / epochs * 9)


def fourier_sign(x: tf.Tensor, terms: tf.Tensor) -> tf.Tensor:
    """sign(x) with FDA's gradient ``(4ω/π)·Σ_{i=0}^{terms} cos((2i + 1)ωx)·g``, 0 where |x| > 1.

    Example:
        >>> x = tf.constant([0.0, 2.0])
        >>> with tf.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = fourier_sign(x, tf.constant(0))
        >>> y.numpy().tolist(), [round(v, 6) for v in tape.gradient(y, x).numpy().tolist()]
        ([1.0, 1.0], [0.127324, 0.0])
    """

    @tf.custom_gradient
    def sign(x):
        def grad(dy):
            def body(i, total):
                coefficient = tf.cast(tf.cast(2 * i + 1, tf.float64) * OMEGA, x.dtype)
                return i + 1, total + tf.cos(coefficient * x)

            _, total = tf.while_loop(lambda i, _: i <= terms, body,
                                     (tf.constant(0, terms.dtype), tf.zeros_like(x)))
            g = tf.constant(4 * OMEGA / np.pi, x.dtype) * total * dy
            return tf.where(tf.abs(x) > 1.0, tf.zeros_like(g), g)

        return lq.math.sign(x), grad

    return sign(x)


class _FdaQuantizer(EpochSchedule, lq.quantizers.Quantizer):
    """The schedule, noise MLP and options both FDA quantizers share."""

    precision = 1
    train_noise = True

    def __init__(self, noise_adapt: bool = True, **kwargs):
        self.noise_adapt = bool(noise_adapt)
        super().__init__(**kwargs)

    def _add_state(self, features: int) -> None:
        state = dict(trainable=False, aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        self.terms = self.add_weight("terms", (), tf.int32,
                                     tf.keras.initializers.Constant(TERMS), **state)
        self.noise_scale = self.add_weight("noise_scale", (),
                                           initializer=tf.keras.initializers.Constant(
                                               NOISE_SCALE), **state)
        self.hidden = features // REDUCTION if self.noise_adapt else 0
        if self.hidden:
            mlp = dict(trainable=self.train_noise)
            self.fc1 = self.add_weight("fc1", (features, self.hidden),
                                       initializer=torch_linear_init(), **mlp)
            self.fc2 = self.add_weight("fc2", (self.hidden, features),
                                       initializer=torch_linear_init(), **mlp)

    def _noise(self, v: tf.Tensor) -> tf.Tensor:
        # fc2(relu(fc1(v))) + 0.1·sin(v) over the last axis of v.
        noise = 0.1 * tf.sin(v)
        if self.hidden:
            noise = tf.matmul(tf.nn.relu(tf.matmul(v, self.fc1)), self.fc2) + noise
        return noise

    def on_epochs_done(self, epochs_done: int, epochs: int) -> None:
        """Set α and n to the official values for the epoch about to run.

        Example:
            >>> q = BiBenchFdaActivation()
            >>> _ = q(tf.ones((1, 2, 2, 3)))
            >>> q.on_epochs_done(10, 10)  # after the last epoch: α = 0, n = 9 + int(8.1)
            >>> float(q.noise_scale), int(q.terms)
            (0.0, 17)
        """
        epoch = self.epoch(epochs_done, epochs)
        self.noise_scale.assign(fda_noise_scale(epoch, epochs))
        self.terms.assign(fda_terms(epoch, epochs))

    @property
    def noise_off(self) -> bool:
        """Whether the noise term is 0: ``noise_adapt=False``, or α = 0 (after the last
        epoch of the schedule).

        Example:
            >>> q = BiBenchFdaActivation()
            >>> _ = q(tf.ones((1, 2, 2, 3)))
            >>> q.noise_off, q.on_epochs_done(5, 5), q.noise_off
            (False, None, True)
        """
        return not self.noise_adapt or float(self.noise_scale) == 0.0

    def get_config(self) -> dict:
        return {**super().get_config(), "noise_adapt": self.noise_adapt}


def lce_rewrite(layer, kernel: np.ndarray) -> Rewrite | None:
    """The LCE form of a binary layer on ``bibench_fda_activation`` inputs once its noise is
    off (its ``rewrite`` hook, see ``bnno.layers.sign_conv``): the same convolution on
    larq's sign, whose forward values the quantizer's then are. None (the layer stays
    float) while α ≠ 0, or for a layer other than larq's plain convolution or dense.

    Example:
        >>> conv = lq.layers.QuantConv2D(4, 3, padding="same",
        ...                              input_quantizer="bibench_fda_activation",
        ...                              kernel_quantizer="bibench_fda_weight")
        >>> _ = conv(tf.ones((1, 6, 6, 2)))
        >>> lce_rewrite(conv, np.ones((3, 3, 2, 4))) is None  # α = 0.1 before training
        True
        >>> conv.input_quantizer.on_epochs_done(3, 3)
        >>> type(lce_rewrite(conv, np.ones((3, 3, 2, 4))).layer).__name__
        'SignConv'
    """
    if not (plain_binary_layer(layer) and layer.input_quantizer.noise_off):
        return None
    if isinstance(layer, lq.layers.QuantDense):
        new = SignConv(layer.units, 1, use_bias=layer.use_bias, name=layer.name)
    else:
        new = SignConv(layer.filters, layer.kernel_size, layer.strides, padding=layer.padding,
                       pad_values=layer.pad_values, use_bias=layer.use_bias, name=layer.name,
                       mirror=isinstance(layer, MirroredQuantConv2D))
    return Rewrite(new, layer_values(layer, kernel))


@register("bibench_fda_activation", roles=("activation",), kind="other", export="rewrite",
          rewrite=lce_rewrite)
class BiBenchFdaActivation(_FdaQuantizer):
    """sign(a) + α·(MLP(a) + 0.1·sin(a)) over channels, Fourier-series gradient.

    The MLP's weights are not trainable (see the module docstring).

    Example:
        >>> q = BiBenchFdaActivation()
        >>> y = q(tf.zeros((1, 2, 2, 128)))  # sign(0) = 1, noise 0 at 0
        >>> float(tf.reduce_min(y)), [v.shape.as_list() for v in q.non_trainable_weights[2:]]
        (1.0, [[128, 2], [2, 128]])

    Args:
        noise_adapt: add the noise term (the official default).
    """

    train_noise = False

    def build(self, input_shape):
        self._add_state(int(input_shape[-1]))
        super().build(input_shape)

    def call(self, inputs):
        binary = fourier_sign(inputs, tf.convert_to_tensor(self.terms))
        if not self.noise_adapt:
            return binary
        return binary + self.noise_scale * self._noise(inputs)


@register("bibench_fda_weight", roles=("kernel",), kind="other", export="binary")
class BiBenchFdaWeight(_FdaQuantizer):
    """mean|w|·(sign(w) + α·(MLP(w) + 0.1·sin(w))) per output channel, Fourier gradient.

    The MLP runs on each output channel's filter flattened in PyTorch's order (input
    channel, row, column), so that official weights map onto it as they are.

    Example:
        >>> q = BiBenchFdaWeight(noise_adapt=False)
        >>> q(tf.constant([[0.5, -2.0], [-0.25, 1.0]])).numpy().tolist()  # mean|w| 0.375, 1.5
        [[0.375, -1.5], [-0.375, 1.5]]

    Args:
        noise_adapt: add the noise term (the official default).
    """

    def build(self, input_shape):
        self._add_state(int(np.prod(input_shape[:-1])))
        super().build(input_shape)

    def call(self, inputs):
        binary = fourier_sign(inputs, tf.convert_to_tensor(self.terms))
        if self.noise_adapt:
            binary = binary + self.noise_scale * self._filter_noise(inputs)
        return binary * channel_scale(inputs)

    def _filter_noise(self, w: tf.Tensor) -> tf.Tensor:
        # Keras' (…, in, out) kernel to PyTorch's (out, in, …) rows and back.
        rank = w.shape.rank
        order = [rank - 1, rank - 2, *range(rank - 2)]
        rows = tf.transpose(w, order)
        noise = self._noise(tf.reshape(rows, [rows.shape[0], -1]))
        return tf.transpose(tf.reshape(noise, tf.shape(rows)), np.argsort(order))
