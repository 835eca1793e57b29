"""Unit quaternions (scalar first, q = (q0, q1, q2, q3)) and rotation matrices, vectorised.

Convention (spec §3, attitude packet): q rotates a vector from the body frame
into the Earth-fixed frame, ``v_ecef = R(q) · v_body`` (an active rotation,
``R(q) v = q v q*``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["quaternion_to_matrix", "matrix_to_quaternion", "quaternion_multiply", "small_angle_matrix", "normalise"]


def normalise(q: ArrayLike) -> np.ndarray:
    """Unit-length copies of vectors/quaternions along the last axis."""
    arr = np.asarray(q, dtype=np.float64)
    return arr / np.linalg.norm(arr, axis=-1, keepdims=True)


def quaternion_to_matrix(q: ArrayLike) -> np.ndarray:
    """(..., 4) unit quaternions → (..., 3, 3) rotation matrices R(q)."""
    w, x, y, z = np.moveaxis(normalise(q), -1, 0)
    out = np.empty(w.shape + (3, 3), dtype=np.float64)
    out[..., 0, 0] = 1.0 - 2.0 * (y * y + z * z)
    out[..., 0, 1] = 2.0 * (x * y - w * z)
    out[..., 0, 2] = 2.0 * (x * z + w * y)
    out[..., 1, 0] = 2.0 * (x * y + w * z)
    out[..., 1, 1] = 1.0 - 2.0 * (x * x + z * z)
    out[..., 1, 2] = 2.0 * (y * z - w * x)
    out[..., 2, 0] = 2.0 * (x * z - w * y)
    out[..., 2, 1] = 2.0 * (y * z + w * x)
    out[..., 2, 2] = 1.0 - 2.0 * (x * x + y * y)
    return out


def matrix_to_quaternion(m: ArrayLike) -> np.ndarray:
    """(..., 3, 3) rotation matrices → (..., 4) unit quaternions with q0 ≥ 0 (Shepperd's method)."""
    r = np.asarray(m, dtype=np.float64)
    m00, m11, m22 = r[..., 0, 0], r[..., 1, 1], r[..., 2, 2]
    trace = m00 + m11 + m22
    candidates = np.stack([trace, m00, m11, m22], axis=-1)
    pick = np.argmax(candidates, axis=-1)
    q = np.empty(r.shape[:-2] + (4,), dtype=np.float64)
    # case 0: w largest
    s = np.sqrt(np.maximum(1.0 + trace, 1e-300)) * 2.0
    q0 = np.stack([0.25 * s, (r[..., 2, 1] - r[..., 1, 2]) / s, (r[..., 0, 2] - r[..., 2, 0]) / s,
                   (r[..., 1, 0] - r[..., 0, 1]) / s], axis=-1)
    s = np.sqrt(np.maximum(1.0 + m00 - m11 - m22, 1e-300)) * 2.0
    q1 = np.stack([(r[..., 2, 1] - r[..., 1, 2]) / s, 0.25 * s, (r[..., 0, 1] + r[..., 1, 0]) / s,
                   (r[..., 0, 2] + r[..., 2, 0]) / s], axis=-1)
    s = np.sqrt(np.maximum(1.0 - m00 + m11 - m22, 1e-300)) * 2.0
    q2 = np.stack([(r[..., 0, 2] - r[..., 2, 0]) / s, (r[..., 0, 1] + r[..., 1, 0]) / s, 0.25 * s,
                   (r[..., 1, 2] + r[..., 2, 1]) / s], axis=-1)
    s = np.sqrt(np.maximum(1.0 - m00 - m11 + m22, 1e-300)) * 2.0
    q3 = np.stack([(r[..., 1, 0] - r[..., 0, 1]) / s, (r[..., 0, 2] + r[..., 2, 0]) / s,
                   (r[..., 1, 2] + r[..., 2, 1]) / s, 0.25 * s], axis=-1)
    q = np.choose(pick[..., None], [q0, q1, q2, q3])
    q = np.where(q[..., :1] < 0.0, -q, q)
    return normalise(q)


def quaternion_multiply(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Hamilton product a ⊗ b (R(a⊗b) = R(a)·R(b))."""
    p = np.asarray(a, dtype=np.float64)
    q = np.asarray(b, dtype=np.float64)
    w1, x1, y1, z1 = np.moveaxis(p, -1, 0)
    w2, x2, y2, z2 = np.moveaxis(q, -1, 0)
    return np.stack([
        w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
        w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
        w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
        w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
    ], axis=-1)


def small_angle_matrix(roll: ArrayLike, pitch: ArrayLike, yaw: ArrayLike) -> np.ndarray:
    """R_z(yaw)·R_y(pitch)·R_x(roll) for (broadcast) angle arrays in radians → (..., 3, 3)."""
    a, b, g = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (roll, pitch, yaw)))
    ca, sa, cb, sb, cg, sg = np.cos(a), np.sin(a), np.cos(b), np.sin(b), np.cos(g), np.sin(g)
    out = np.empty(a.shape + (3, 3), dtype=np.float64)
    out[..., 0, 0] = cg * cb
    out[..., 0, 1] = cg * sb * sa - sg * ca
    out[..., 0, 2] = cg * sb * ca + sg * sa
    out[..., 1, 0] = sg * cb
    out[..., 1, 1] = sg * sb * sa + cg * ca
    out[..., 1, 2] = sg * sb * ca - cg * sa
    out[..., 2, 0] = -sb
    out[..., 2, 1] = cb * sa
    out[..., 2, 2] = cb * ca
    return out
