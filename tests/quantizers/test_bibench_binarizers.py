"""BiBench's binarizers (``bnno.quantizers.bibench_*``) against NumPy transcriptions of the
official PyTorch code (htqin/BiBench, ``bibench/models/layers/<name>.py``, the ``Conv2d``
forms), written from that code: forward values, gradients (of the input, and of every
trainable variable), the epoch schedules of ReCU and FDA, config round trips, checkpoints
of the schedule state, and how Larq Compute Engine runs each.

Kernels are Keras' (kh, kw, in, out); the official ones are (out, in, kh, kw): the
transcriptions that flatten a filter move the output channel first (``_torch``). Two
deliberate differences from PyTorch hold everywhere: sign(0) = +1 (larq's; the values
below stay away from 0), and the clamp's gradient passes at exactly ±1 (PyTorch 1.x's
``clamp_backward``; the values stay away from ±1 too).
"""

import bnno  # noqa: F401

# isort: split

import math

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

from bnno import quantizers
from bnno.layers.mirrored import MirroredQuantConv2D
from bnno.models.bibench_layers import XnorPlusPlusConv2D

BINARIZERS = ("bnn", "xnor", "dorefa", "bireal", "xnorpp", "react", "recu", "fda")
NAMES = [f"bibench_{b}_{side}" for b in BINARIZERS for side in ("activation", "weight")]


# --- the official code, transcribed ------------------------------------------------------

def sign(x):  # torch.sign, but 0 -> +1 (larq's)
    return np.where(x >= 0, 1.0, -1.0)


def clamp_grad(x):  # gradient of torch.clamp(x, -1, 1): 1 on [-1, 1]
    return ((x >= -1) & (x <= 1)).astype(np.float64)


def sample_mean_abs(x):  # XNORConv2d: mean |x| over dims 3, 2, 1 (C, H, W), per sample
    return np.abs(x).mean(axis=tuple(range(1, x.ndim)), keepdims=True)


def filter_mean_abs(w):  # mean |w| over dims 3, 2, 1 of the (out, in, kh, kw) weight
    return np.abs(w).mean(axis=tuple(range(w.ndim - 1)), keepdims=True)


def bireal_grad(x):
    # BiRealConv2d: out3 from the masks x < -1, x < 0, x < 1, differentiated piece by piece.
    m1, m2, m3 = (x < -1).astype(float), (x < 0).astype(float), (x < 1).astype(float)
    d1 = (2 * x + 2) * (1 - m1)
    d2 = d1 * m2 + (-2 * x + 2) * (1 - m2)
    return d2 * m3


def fourier_grad(x, n):  # FDA_BinaryQuantize.backward, omega = 0.1, without grad_output
    total = sum(np.cos((2 * i + 1) * 0.1 * x) for i in range(n + 1))
    grad = 4 * 0.1 / np.pi * total
    return np.where((x > 1) | (x < -1), 0.0, grad)


def torch_tau(epoch, epochs):  # ReCUConv2d.model_params_update, in float32
    a = np.float32(np.e)
    t_min, t_max = np.float32(0.85), np.float32(0.99)
    big_a = (t_max - t_min) / (a - np.float32(1))
    big_b = t_min - big_a
    return big_a * np.float32(a ** np.float32(epoch / epochs)) + big_b


def torch_fda(epoch, epochs):  # FDAConv2d.model_params_update: alpha (float32), n
    angle = np.float32(np.float32((epoch + 1) / epochs) * np.float32(np.pi))
    alpha = np.float32(0.05) * (np.float32(1) + np.float32(np.cos(np.float64(angle))))
    return alpha, 9 + int(epoch / epochs * 9)


def _torch(w):  # Keras kernel (kh, kw, in, out) -> PyTorch weight (out, in, kh, kw)
    return np.transpose(w, (3, 2, 0, 1))


def _keras(w):
    return np.transpose(w, (2, 3, 1, 0))


def recu_weight(w, alpha, tau, g):
    """ReCUConv2d on the weights (``recu.py``): forward, gradient of w, gradient of alpha."""
    w, g = _torch(w).astype(np.float64), _torch(g).astype(np.float64)
    axes = (1, 2, 3)
    n = np.prod(w.shape[1:])
    w0 = w - w.mean(axes, keepdims=True)
    s = np.sqrt(w0.var(axes, ddof=1, keepdims=True) + 1e-5)
    k = 2 * np.sqrt(2)
    w1 = w0 / (s / 2 / np.sqrt(2))
    q = np.inf if tau == 1 else -np.abs(w1).mean() * np.log(2 - 2 * tau)
    w2 = np.clip(w1, -q, q)
    a = alpha.reshape(-1, 1, 1, 1)
    forward = sign(w2) * a
    g1 = g * a * ((w1 >= -q) & (w1 <= q))  # identity STE, then the clamp
    centred = w0 - w0.mean(axes, keepdims=True)
    gw0 = k / s * g1 - k * (g1 * w0).sum(axes, keepdims=True) / s**3 * centred / (n - 1)
    gw = gw0 - gw0.mean(axes, keepdims=True)
    galpha = (g * sign(w2)).sum(axes)
    return _keras(forward), _keras(gw), galpha


def recu_activation(x, g, training):
    """ReCUConv2d on the inputs (``recu.py``, ``BinaryQuantize_a``)."""
    x, g = x.astype(np.float64), g.astype(np.float64)
    axes = tuple(range(1, x.ndim))
    if not training:
        return sign(x), g * np.maximum(2 - np.abs(2 * x), 0)
    n = np.prod(x.shape[1:])
    m = x.mean(axes, keepdims=True)
    s = np.sqrt(x.var(axes, ddof=1, keepdims=True) + 1e-5)
    a0 = x / s
    g0 = g * np.maximum(2 - np.abs(2 * a0), 0)
    grad = g0 / s - (g0 * x).sum(axes, keepdims=True) * (x - m) / ((n - 1) * s**3)
    return sign(a0), grad


def noise_mlp(v, fc1, fc2, g):
    """NoiseAdaption(_a) on the rows of v (fc weights as Keras kernels: W.T): value and the
    gradients of v, fc1, fc2 for the upstream g."""
    hidden = v @ fc1
    value = np.maximum(hidden, 0) @ fc2 + 0.1 * np.sin(v)
    g_hidden = (g @ fc2.T) * (hidden > 0)
    return (value, g_hidden @ fc1.T + 0.1 * np.cos(v) * g, v.T @ g_hidden,
            np.maximum(hidden, 0).T @ g)


def fda_activation(x, g, n, alpha, fc1=None, fc2=None):
    """FDAConv2d on the inputs: sign + alpha * NoiseAdaption_a, Fourier gradient."""
    forward, grad = sign(x), fourier_grad(x, n) * g
    noise, g_noise = 0.1 * np.sin(x), 0.1 * np.cos(x) * g
    if fc1 is not None:
        flat, gflat = x.reshape(-1, x.shape[-1]), g.reshape(-1, x.shape[-1])
        noise, g_noise = (t.reshape(x.shape) for t in noise_mlp(flat, fc1, fc2, gflat)[:2])
    return forward + alpha * noise, grad + alpha * g_noise


def fda_weight(w, g, n, alpha, fc1, fc2):
    """FDAConv2d on the weights: (sign + alpha * NoiseAdaption) * mean|w| per filter."""
    rows, grows = _torch(w).reshape(w.shape[-1], -1), _torch(g).reshape(w.shape[-1], -1)
    scale = np.abs(rows).mean(axis=1, keepdims=True)
    noise, g_noise, g_fc1, g_fc2 = noise_mlp(rows, fc1, fc2, grows * scale)
    forward = (sign(rows) + alpha * noise) * scale
    grad = fourier_grad(rows, n) * grows * scale + alpha * g_noise
    shape = _torch(w).shape
    return (_keras(forward.reshape(shape)), _keras(grad.reshape(shape)), alpha * g_fc1,
            alpha * g_fc2)


# name -> (forward(x), gradient(x, g)) of the quantizers with no variables.
STATELESS = {
    "bibench_bnn_activation": (sign, lambda x, g: g * clamp_grad(x)),
    "bibench_bnn_weight": (sign, lambda x, g: g * clamp_grad(x)),
    "bibench_xnor_activation": (lambda x: sample_mean_abs(x) * sign(x),
                                lambda x, g: g * clamp_grad(x)),
    "bibench_xnor_weight": (lambda w: filter_mean_abs(w) * sign(w),
                            lambda w, g: g * clamp_grad(w)),
    "bibench_dorefa_activation": (sign, lambda x, g: g * clamp_grad(x)),
    "bibench_dorefa_weight": (lambda w: filter_mean_abs(w) * sign(w),
                              lambda w, g: g * clamp_grad(w)),
    "bibench_bireal_activation": (sign, lambda x, g: g * bireal_grad(x)),
    "bibench_bireal_weight": (lambda w: filter_mean_abs(w) * sign(w),
                              lambda w, g: g * clamp_grad(w)),
    "bibench_xnorpp_activation": (sign, lambda x, g: g * clamp_grad(x)),
    "bibench_react_weight": (lambda w: filter_mean_abs(w) * sign(w),
                             lambda w, g: g * clamp_grad(w)),
}


# --- running them ----------------------------------------------------------------------------

def _values(shape, seed, scale=2.0):
    # Away from 0 and ±1 by at least 0.01, so float32 cannot put a value across a kink.
    x = np.random.default_rng(seed).uniform(-scale, scale, shape).astype(np.float32)
    for kink in (0.0, 1.0, -1.0):
        x[np.abs(x - kink) < 0.01] = kink + 0.02
    return x


def _quantizer(name, **options):
    role = quantizers.get(name).roles[0]
    return lq.quantizers.get(quantizers.resolve({"name": name, **options}, role))


def _run(quantizer, x, g, variables=(), **call):
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = quantizer(xt, **call)
        loss = tf.reduce_sum(y * g)
    grads = tape.gradient(loss, [xt, *variables])
    return y.numpy(), [None if t is None else t.numpy() for t in grads]


def _built(name, shape, **options):
    quantizer = _quantizer(name, **options)
    quantizer(tf.zeros(shape))
    return quantizer


ACTIVATION, KERNEL = (2, 5, 5, 6), (3, 3, 6, 4)


def _shape(name):
    return KERNEL if name.endswith("_weight") else ACTIVATION


# --- forward and gradients -----------------------------------------------------------------

def test_every_bibench_quantizer_is_registered():
    assert set(NAMES) <= set(quantizers.names())
    assert NAMES == [n for n in NAMES if n in quantizers.names(
        "kernel" if n.endswith("_weight") else "activation")]


@pytest.mark.parametrize("name", sorted(STATELESS))
def test_stateless_forward_and_gradient_equal_numpy(name):
    x, g = _values(_shape(name), 0), _values(_shape(name), 1)
    y, (grad,) = _run(_quantizer(name), x, g)
    forward, gradient = STATELESS[name]
    np.testing.assert_allclose(y, forward(x), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(grad, gradient(x, g), rtol=1e-6, atol=1e-6)


def test_react_threshold_shifts_the_sign_and_takes_its_gradient():
    x, g = _values(ACTIVATION, 2), _values(ACTIVATION, 3)
    q = _built("bibench_react_activation", ACTIVATION)
    b = np.random.default_rng(4).uniform(-0.5, 0.5, ACTIVATION[-1]).astype(np.float32)
    q.threshold.assign(b)
    y, (grad, grad_b) = _run(q, x, g, [q.threshold])
    shifted = (x + b).astype(np.float64)
    np.testing.assert_allclose(y, sign(shifted))
    np.testing.assert_allclose(grad, g * bireal_grad(shifted), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(grad_b, (g * bireal_grad(shifted)).sum(axis=(0, 1, 2)),
                               rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_xnorpp_channel_scale_folds_into_the_kernel():
    w, g = _values(KERNEL, 5), _values(KERNEL, 6)
    q = _built("bibench_xnorpp_weight", KERNEL)
    o = np.random.default_rng(7).uniform(0.5, 1.5, KERNEL[-1]).astype(np.float32)
    q.scale.assign(o)
    y, (grad, grad_o) = _run(q, w, g, [q.scale])
    np.testing.assert_allclose(y, o * sign(w), rtol=1e-6)
    np.testing.assert_allclose(grad, o * g * clamp_grad(w), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(grad_o, (g * sign(w)).sum(axis=(0, 1, 2)), rtol=1e-5)


def _conv_same(x, k):  # NHWC, stride 1, zero padding: F.conv2d(x, k, padding=kh // 2)
    pad = k.shape[0] // 2
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    out = np.zeros(x.shape[:3] + (k.shape[-1],))
    for i in range(k.shape[0]):
        for j in range(k.shape[1]):
            out += xp[:, i:i + x.shape[1], j:j + x.shape[2], :] @ k[i, j]
    return out


@pytest.mark.slow
def test_xnorpp_layer_equals_the_official_operator():
    x, w = _values((2, 6, 5, 3), 8), _values((3, 3, 3, 4), 9)
    g = _values((2, 6, 5, 4), 10)
    layer = XnorPlusPlusConv2D(4, 3, padding="same", use_bias=False,
                               input_quantizer="bibench_xnorpp_activation",
                               kernel_quantizer="bibench_xnorpp_weight")
    layer(tf.zeros(x.shape))
    rng = np.random.default_rng(11)
    o, h, v = (rng.uniform(0.5, 1.5, n).astype(np.float32) for n in (4, 6, 5))
    layer.kernel.assign(w)
    layer.kernel_quantizer.scale.assign(o)
    layer.row_scale.assign(h)
    layer.column_scale.assign(v)
    variables = [layer.kernel_quantizer.scale, layer.row_scale, layer.column_scale]
    y, (_, grad_o, grad_h, grad_v) = _run(layer, x, g, variables)
    conv = _conv_same(sign(x), sign(w))  # XNORPlusPlusConv2d: y * o_scale * h_scale * w_scale
    official = conv * o * h[:, None, None] * v[:, None]
    np.testing.assert_allclose(y, official, rtol=1e-5, atol=1e-5)
    sums = dict(rtol=1e-5, atol=1e-4)  # float32 sums of 60 products of size ~10
    np.testing.assert_allclose(grad_o, (g * conv * h[:, None, None] * v[:, None]).sum((0, 1, 2)),
                               **sums)
    np.testing.assert_allclose(grad_h, (g * conv * o * v[:, None]).sum((0, 2, 3)), **sums)
    np.testing.assert_allclose(grad_v, (g * conv * o * h[:, None, None]).sum((0, 1, 3)), **sums)


@pytest.mark.slow
@pytest.mark.parametrize("training", [True, False])
def test_recu_activation(training):
    x, g = _values(ACTIVATION, 12), _values(ACTIVATION, 13)
    y, (grad,) = _run(_quantizer("bibench_recu_activation"), x, g, training=training)
    forward, gradient = recu_activation(x, g, training)
    np.testing.assert_allclose(y, forward)
    np.testing.assert_allclose(grad, gradient, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("epochs_done", [None, 0, 7])  # None: τ = 1 before any schedule
def test_recu_weight(epochs_done):
    w, g = _values(KERNEL, 14, scale=0.1), _values(KERNEL, 15)
    w[0, 0, :, 1] = 0.5  # an outlier filter value that the clamp cuts
    q = _built("bibench_recu_weight", KERNEL)
    alpha = q.scale.numpy()
    assert np.all((alpha >= 0) & (alpha < 1)) and len(set(alpha)) == len(alpha)  # torch.rand
    if epochs_done is not None:
        q.on_epochs_done(epochs_done, 10)
    tau = float(q.tau)
    y, (grad, grad_alpha) = _run(q, w, g, [q.scale])
    forward, gradient, gradient_alpha = recu_weight(w, alpha, tau, g)
    if epochs_done is not None:  # the schedule's clamp cuts something
        assert tau < 1 and not np.allclose(gradient, recu_weight(w, alpha, 1.0, g)[1])
    np.testing.assert_allclose(y, forward, rtol=1e-6)
    np.testing.assert_allclose(grad, gradient, rtol=1e-4, atol=1e-4 * np.abs(gradient).max())
    np.testing.assert_allclose(grad_alpha, gradient_alpha, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("channels", [128, 16])  # hidden width 2, and 0 (16 // 64)
@pytest.mark.parametrize("noise", [True, False])
def test_fda_activation(channels, noise):
    shape = (2, 3, 3, channels)
    x, g = _values(shape, 16), _values(shape, 17)
    q = _built("bibench_fda_activation", shape, noise_adapt=noise)
    q.on_epochs_done(120, 200)
    alpha, n = torch_fda(120, 200)
    assert (float(q.noise_scale), int(q.terms)) == (pytest.approx(alpha, rel=1e-6), n)
    assert q.trainable_weights == []  # the official activation MLP never trains
    fc = [v.numpy() for v in q.non_trainable_weights[2:]]
    assert len(fc) == (2 if noise and channels >= 64 else 0)
    y, (grad,) = _run(q, x, g)
    forward, gradient = fda_activation(x, g, n, alpha if noise else 0.0, *fc)
    np.testing.assert_allclose(y, forward, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(grad, gradient, rtol=1e-4, atol=1e-5)


def test_fda_weight_with_its_trained_noise_mlp():
    shape = (3, 3, 8, 4)  # filters of 72 values: hidden width 1
    w, g = _values(shape, 18, scale=1.5), _values(shape, 19)
    q = _built("bibench_fda_weight", shape)
    q.on_epochs_done(0, 4)
    alpha, n = torch_fda(0, 4)
    fc1, fc2 = q.fc1.numpy(), q.fc2.numpy()
    assert fc1.shape == (72, 1) and np.abs(fc1).max() <= 1 / math.sqrt(72)  # nn.Linear's init
    y, (grad, grad_fc1, grad_fc2) = _run(q, w, g, [q.fc1, q.fc2])
    forward, gradient, gradient_fc1, gradient_fc2 = fda_weight(w, g, n, alpha, fc1, fc2)
    np.testing.assert_allclose(y, forward, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grad, gradient, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(grad_fc1, gradient_fc1, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(grad_fc2, gradient_fc2, rtol=1e-4, atol=1e-5)


# --- schedules ----------------------------------------------------------------------------

@pytest.mark.parametrize("epochs", [1, 7, 200])
def test_schedules_after_k_epochs_equal_the_official_formulas(epochs):
    recu = _built("bibench_recu_weight", KERNEL)
    fda = [_built("bibench_fda_activation", ACTIVATION), _built("bibench_fda_weight", KERNEL)]
    assert float(recu.tau) == 1.0 and all(  # the official buffers before the hook runs
        (float(q.noise_scale), int(q.terms)) == (pytest.approx(0.1), 9) for q in fda)
    for done in sorted({0, 1, epochs // 2, epochs - 1, epochs}):
        epoch = min(done, epochs - 1)  # the hook runs before epochs 0 … E − 1 only
        recu.on_epochs_done(done, epochs)
        assert float(recu.tau) == pytest.approx(float(torch_tau(epoch, epochs)), rel=1e-6)
        alpha, n = torch_fda(epoch, epochs)
        for q in fda:
            q.on_epochs_done(done, epochs)
            assert float(q.noise_scale) == pytest.approx(float(alpha), rel=1e-6, abs=1e-9)
            assert int(q.terms) == n
    assert float(fda[0].noise_scale) == 0.0  # at the end of training: no noise at all


@pytest.mark.slow
def test_bad_epochs_fail_in_one_line():
    q = _built("bibench_recu_weight", KERNEL)
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        q.on_epochs_done(0, 0)


def _schedule_model():
    x = inputs = tf.keras.Input((6, 6, 3))
    x = lq.layers.QuantConv2D(4, 3, input_quantizer="bibench_recu_activation",
                              kernel_quantizer="bibench_recu_weight")(x)
    x = lq.layers.QuantConv2D(4, 3, input_quantizer="bibench_fda_activation",
                              kernel_quantizer="bibench_fda_weight")(x)
    return tf.keras.Model(inputs, x)


def _state(model):
    return [float(m.tau) for m in model.submodules if hasattr(m, "tau")] + [
        (float(m.noise_scale), int(m.terms)) for m in model.submodules if hasattr(m, "terms")]


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".h5", ""])  # bnno's weight files, and TF checkpoints
def test_checkpoints_carry_the_schedule_state(tmp_path, suffix):
    model = _schedule_model()
    for module in model.submodules:
        if hasattr(module, "on_epochs_done"):
            module.on_epochs_done(3, 10)
    path = str(tmp_path / f"weights{suffix}")
    model.save_weights(path)
    again = _schedule_model()
    assert _state(again) != _state(model)
    again.load_weights(path)
    assert _state(again) == _state(model)


# --- configs ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_config_round_trips(name):
    options = {"noise_adapt": False} if "fda" in name else {}
    quantizer = _quantizer(name, **options)
    again = type(quantizer).from_config(quantizer.get_config())
    assert again.get_config() == quantizer.get_config()
    assert type(lq.quantizers.get(tf.keras.utils.serialize_keras_object(quantizer))) is \
        quantizers.get(name).cls
    x = _values(_shape(name), 20)
    if any(v.trainable for v in quantizer.weights + again.weights) or "recu_weight" in name:
        quantizer(x), again(x)  # build, then give both the same variables
        again.set_weights(quantizer.get_weights())
    np.testing.assert_array_equal(quantizer(x).numpy(), again(x).numpy())


def test_the_fda_option_reaches_the_quantizer():
    config = quantizers.resolve({"name": "bibench_fda_weight", "noise_adapt": False}, "kernel")
    assert config == {"class_name": "BiBenchFdaWeight", "config": {"noise_adapt": False}}
    assert _built("bibench_fda_weight", KERNEL, noise_adapt=False).trainable_weights == []


# --- Larq Compute Engine ------------------------------------------------------------------

def _chain():
    """A real stem, then one binary convolution per BiBench binarizer (both sides), each
    followed by batch norm, then a classifier; trainable quantizer variables at random
    values, batch norms with trained-like statistics, schedules at the end of training."""
    x = inputs = tf.keras.Input((12, 12, 3))
    x = tf.keras.layers.Conv2D(8, 3, padding="same", use_bias=False)(x)
    for name in BINARIZERS:
        conv = XnorPlusPlusConv2D if name == "xnorpp" else lq.layers.QuantConv2D
        x = conv(8, 3, padding="same", use_bias=False, name=name,
                 input_quantizer=f"bibench_{name}_activation",
                 kernel_quantizer=f"bibench_{name}_weight")(x)
        x = tf.keras.layers.BatchNormalization()(x)
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(4)(tf.keras.layers.Flatten()(x)))
    _trained_like(model, np.random.default_rng(21))
    return model


def _tiny(name):
    """A real stem, a binary convolution at stride 2 (padded as PyTorch pads, as
    ``bibench_resnet`` has them) and a binary dense layer, both with the binarizer ``name``
    on both sides, batch norms with trained-like statistics, trainable quantizer variables
    away from their initial values, schedules at their end."""
    quantizer = dict(input_quantizer=f"bibench_{name}_activation",
                     kernel_quantizer=f"bibench_{name}_weight")
    x = inputs = tf.keras.Input((8, 8, 3))
    x = tf.keras.layers.BatchNormalization()(tf.keras.layers.Conv2D(8, 3, padding="same")(x))
    x = MirroredQuantConv2D(8, 3, strides=2, padding="same", **quantizer)(x)
    x = tf.keras.layers.Flatten()(tf.keras.layers.BatchNormalization()(x))
    x = tf.keras.layers.BatchNormalization()(lq.layers.QuantDense(6, **quantizer)(x))
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(3)(x))
    _trained_like(model, np.random.default_rng(23))
    return model


def _trained_like(model, rng):
    for module in model.submodules:
        if hasattr(module, "on_epochs_done"):
            module.on_epochs_done(5, 5)
    for layer in model.layers[2:-1]:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            # Trained statistics: an exact 0 before the norm (sums of ±1) is not one after it,
            # where float rounding of α·Σ±1 and Σ±α could give the next sign either way.
            c = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, c), rng.uniform(-1, 1, c),
                               rng.uniform(-1, 1, c), rng.uniform(0.5, 2, c)])
            continue
        for v in layer.trainable_weights:  # thresholds in ±[0.5, 1.5], scales in [0.5, 1.5]
            if "kernel" not in v.name and "bias" not in v.name:
                sign = np.sign(rng.uniform(-1, 1, v.shape)) if "threshold" in v.name else 1
                v.assign(rng.uniform(0.5, 1.5, v.shape) * sign)


@pytest.mark.slow
@pytest.mark.parametrize("name", BINARIZERS)
def test_export_runs_every_binary_layer_as_lce_bconv2d(name):
    # The export path of ``bnno export``: the inference rewrite (with the quantizers'
    # rewrite hooks), then LCE's converter.
    pytest.importorskip("larq_compute_engine")
    from bnno.deploy.convert import convert_ready, lce_predict
    from bnno.deploy.inference import expected_binary, inference_model, is_binary_layer
    from bnno.deploy.metadata import count_binary_ops

    model = _tiny(name)
    binary = [layer for layer in model.layers if is_binary_layer(layer)]
    assert len(binary) == 2 and all(expected_binary(layer) for layer in binary)
    flatbuffer = convert_ready(inference_model(model))
    assert count_binary_ops(flatbuffer) == 2
    images = np.random.default_rng(24).normal(size=(4, 8, 8, 3)).astype(np.float32)
    np.testing.assert_allclose(lce_predict(flatbuffer, images), model.predict(images, verbose=0),
                               rtol=1e-3, atol=1e-3)


@pytest.mark.slow
def test_export_runs_all_eight_in_one_network_as_lce_bconv2d():
    pytest.importorskip("larq_compute_engine")
    from bnno.deploy.convert import convert, lce_predict
    from bnno.deploy.metadata import count_binary_ops

    model = _chain()
    flatbuffer = convert(model)
    assert count_binary_ops(flatbuffer) == 8
    images = np.random.default_rng(22).normal(size=(4, 12, 12, 3)).astype(np.float32)
    np.testing.assert_allclose(lce_predict(flatbuffer, images), model.predict(images, verbose=0),
                               rtol=1e-3, atol=1e-3)


def test_export_refuses_fda_before_its_noise_is_off():
    from bnno.deploy.inference import inference_model
    from bnno.errors import BnnoError

    x = tf.keras.Input((6, 6, 3))
    model = tf.keras.Model(x, lq.layers.QuantConv2D(
        4, 3, input_quantizer="bibench_fda_activation", kernel_quantizer="bibench_fda_weight")(x))
    with pytest.raises(BnnoError, match="is tagged binary but its kernel is not ±α"):
        inference_model(model)
