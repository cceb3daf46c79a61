"""NumPy transcriptions of the official Bop and Bop2ndOrder update rules, operation by
operation in float32 as TensorFlow runs them (one update of one kernel; ``m``, ``v`` are
the slots, ``gamma``, ``sigma``, ``threshold`` the values the schedules give at the
optimizer's step count before its increment: update k reads schedule(k − 1)).

- plumerai/rethinking-bnn-optimization (TF 2.0, larq 0.7.4)
  ``bnn_optimization/optimizers.py`` class ``Bop``, ``_resource_apply_dense`` l.98-108:
  ``m_t = (1 - γ)·m + γ·g``; ``w_t = lq.math.sign(-tf.sign(w·m_t - τ)·w)``.
- CuauSuarez/Bop2ndOrder (TF 2.3, larq 0.10), ``bnn_optimization/optimizers.py`` on
  branch ``conference`` (bf29ed4; ``Bop`` and ``Bop2ndOrder`` are the same on master):
  * ``Bop`` l.67-75 (larq's): ``m_t = m + γ·(g - m)``; the same flip rule;
  * ``Bop2ndOrder`` l.146-157: ``m_t = m + γ(g - m)``, ``v_t = v + σ(g² - v)``,
    ``w_t = lq.math.sign(-tf.sign(w·(m_t / (√v_t + 1e-10)) - τ)·w)``;
  * ``Bop2ndOrder_unbiased`` l.228-239: the same ``m_t``, ``v_t``, and
    ``w_t = lq.math.sign(-tf.sign(w·((m_t / γ) / (√(v_t / σ) + 1e-10)) - τ)·w)`` with
    the current γ and σ.
- ``lq.math.sign(x) = tf.sign(tf.sign(x) + 0.1)`` (+1 at 0); ``tf.sign(0) = 0``.
"""

from __future__ import annotations

import math

import numpy as np

F32 = np.float32
EPSILON = F32(1e-10)


def lq_sign(x) -> np.ndarray:
    """larq's sign: +1 at 0."""
    x = np.asarray(x, F32)
    return np.sign(np.sign(x) + F32(0.1)).astype(F32)


def _flip(w, signal, threshold) -> np.ndarray:
    return lq_sign(-np.sign(signal - F32(threshold)).astype(F32) * w)


def bop_plumerai(w, m, g, gamma, threshold):
    """The Bop paper's code. Returns (w_t, m_t)."""
    w, m, g = (np.asarray(a, F32) for a in (w, m, g))
    m_t = (F32(1) - F32(gamma)) * m + F32(gamma) * g
    return _flip(w, w * m_t, threshold), m_t


def bop_larq(w, m, g, gamma, threshold):
    """larq's Bop (the Bop2ndOrder repository's ``Bop``). Returns (w_t, m_t)."""
    w, m, g = (np.asarray(a, F32) for a in (w, m, g))
    m_t = m + F32(gamma) * (g - m)
    return _flip(w, w * m_t, threshold), m_t


def bop2ndorder(w, m, v, g, gamma, sigma, threshold):
    """``Bop2ndOrder`` (biased). Returns (w_t, m_t, v_t)."""
    w, m, v, g = (np.asarray(a, F32) for a in (w, m, v, g))
    m_t = m + F32(gamma) * (g - m)
    v_t = v + F32(sigma) * (np.square(g) - v)
    return _flip(w, w * (m_t / (np.sqrt(v_t) + EPSILON)), threshold), m_t, v_t


def bop2ndorder_unbiased(w, m, v, g, gamma, sigma, threshold):
    """``Bop2ndOrder_unbiased``. Returns (w_t, m_t, v_t)."""
    w, m, v, g = (np.asarray(a, F32) for a in (w, m, v, g))
    gamma, sigma = F32(gamma), F32(sigma)
    m_t = m + gamma * (g - m)
    v_t = v + sigma * (np.square(g) - v)
    signal = w * ((m_t / gamma) / (np.sqrt(v_t / sigma) + EPSILON))
    return _flip(w, signal, threshold), m_t, v_t


def run_bop2ndorder(w, grads, gamma, sigma, threshold, rule=bop2ndorder) -> np.ndarray:
    """``rule`` over ``grads`` from zero slots; ``gamma``, ``sigma``, ``threshold`` are
    functions of the 0-based update index (a schedule at the step count)."""
    w = np.asarray(w, F32)
    m, v = np.zeros_like(w), np.zeros_like(w)
    for step, g in enumerate(grads):
        w, m, v = rule(w, m, v, g, gamma(step), sigma(step), threshold(step))
    return w


def staircase(initial: float, every: int, rate: float):
    """Keras' ``ExponentialDecay(initial, every, rate, staircase=True)`` in float32."""
    return lambda step: F32(initial) * np.power(F32(rate), np.floor(F32(step) / F32(every)),
                                                dtype=F32)


def glorot_limit(shape) -> float:
    """Keras' glorot_uniform bound √(6 / (fan_in + fan_out))."""
    receptive = math.prod(shape[:-2]) if len(shape) > 2 else 1
    return math.sqrt(6.0 / ((shape[-2] + shape[-1]) * receptive))
