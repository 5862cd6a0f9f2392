"""Compiled CPU loops of the fused LIF (numba): the forward and backward of :class:`tmkt.method.neurons.FusedLIF`.

The torch formulation of the fused LIF makes about ten passes over every neuron's memory per time step
(one per element-wise operation, each allocating its result); on a CPU that, not arithmetic, is its cost.
These loops make one pass: for every step ``t`` and neuron ``n`` (float32 throughout, in the operation
order of norse's cell, so spikes and membranes are bit for bit norse's)::

    forward:   u = v + k (I - v);   z = [u - V_th > 0];   v = (1 - z) u + z v_reset
    backward:  s = H'(u - V_th);    g_u = dL/dz s + (g_v + dL/dv) ((1 - z) [+ (v_reset - u) s, reset "pass"]);
               dL/dI = k g_u;       g_v <- (1 - k) g_u

Arrays are ``(T, N)`` views of the layer's tensors (every neuron of every sample in one axis, in memory
order), so the inner loop runs over contiguous memory. The surrogates are norse's and He et al.'s two
(:data:`SURROGATES`).
"""

from __future__ import annotations

import math

import numba
import numpy as np

@numba.njit(cache=True, nogil=True)
def forward(currents, k, v_th, v_reset, charged, spikes, membranes):
    """Fill ``charged`` (u_t), ``spikes`` (z_t) and ``membranes`` (v_t) from ``currents``; all (T, N) float32.
    ``membranes`` may be a (0, 0) array: not recorded (one write per neuron and step fewer)."""
    steps, neurons = currents.shape
    v = np.zeros(neurons, dtype=np.float32)
    one = np.float32(1.0)
    record = membranes.shape[0] > 0
    for t in range(steps):
        for n in range(neurons):  # branch-free, so that the compiler vectorises it
            u = v[n] + k * (currents[t, n] - v[n])
            z = np.float32(u - v_th > 0)
            v[n] = (one - z) * u + z * v_reset
            charged[t, n] = u
            spikes[t, n] = z
        if record:
            membranes[t] = v


@numba.njit(cache=True, nogil=True, inline="always")
def triangle(x, alpha):
    return alpha * max(np.float32(0.0), np.float32(1.0) - abs(x))


@numba.njit(cache=True, nogil=True, inline="always")
def superspike(x, alpha):
    return np.float32(1.0) / (abs(x) + np.float32(1.0)) ** 2


@numba.njit(cache=True, nogil=True, inline="always")
def tanh(x, alpha):
    return np.float32(1.0) - math.tanh(x * alpha) ** 2


@numba.njit(cache=True, nogil=True, inline="always")
def circ(x, alpha):
    r2 = alpha * alpha + x * x
    return (-(x * x / (2 * r2**1.5)) + 1 / (2 * math.sqrt(r2))) * 2 * alpha


@numba.njit(cache=True, nogil=True, inline="always")
def heavi_erfc(x, alpha):
    return 2 * math.exp(-((alpha * x) ** 2)) / math.sqrt(math.pi)


@numba.njit(cache=True, nogil=True, inline="always")
def qgate(x, alpha):
    return alpha * max(np.float32(0.0), np.float32(1.0) - alpha * abs(x))


@numba.njit(cache=True, nogil=True, inline="always")
def rectangle(x, alpha):
    return np.float32(abs(x) < alpha / np.float32(2.0))


#: ``model.surrogate`` -> the code of its derivative H'(x) in :func:`slope` (norse's formulas). The backward takes
#: the code, not the function: a compiled function passed as an argument enters numba's on-disk cache key with an
#: identity that differs in every process, so each process added a cache entry (the index grew without bound)
#: and processes sharing the cache could fail to load it.
SURROGATES = {"triangle": 0, "super": 1, "tanh": 2, "circ": 3, "heavi_erfc": 4, "qgate": 5, "rectangle": 6}


@numba.njit(cache=True, nogil=True, inline="always")
def slope(code, x, alpha):
    """H'(x) of the surrogate ``code`` (:data:`SURROGATES`)."""
    if code == 0:
        return triangle(x, alpha)
    if code == 1:
        return superspike(x, alpha)
    if code == 2:
        return tanh(x, alpha)
    if code == 3:
        return circ(x, alpha)
    if code == 4:
        return heavi_erfc(x, alpha)
    if code == 5:
        return qgate(x, alpha)
    return rectangle(x, alpha)


@numba.njit(cache=True, nogil=True)
def backward(code, grad_spikes, grad_membranes, charged, k, v_th, v_reset, alpha, pass_reset, grad_currents):
    """Fill ``grad_currents`` (dL/dI_t) with the derivative of surrogate ``code`` (:data:`SURROGATES`);
    ``grad_membranes`` may be a (0, 0) array (no gradient at v_t)."""
    steps, neurons = charged.shape
    g_v = np.zeros(neurons, dtype=np.float32)
    one, decay = np.float32(1.0), np.float32(1.0) - k
    with_membranes = grad_membranes.shape[0] > 0
    for t in range(steps - 1, -1, -1):
        if with_membranes:
            for n in range(neurons):
                g_v[n] += grad_membranes[t, n]
        for n in range(neurons):
            u = charged[t, n]
            z = np.float32(u - v_th > 0)  # the spike, recomputed: one read per neuron and step fewer
            s = np.float32(slope(code, u - v_th, alpha))
            through_v = one - z
            if pass_reset:
                through_v += (v_reset - u) * s
            g_u = grad_spikes[t, n] * s + g_v[n] * through_v
            grad_currents[t, n] = k * g_u
            g_v[n] = decay * g_u
