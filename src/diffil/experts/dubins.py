"""Dubins paths: the shortest forward-only path between two poses with a bounded turning radius.

A Dubins path is three segments, each a left turn (L), a right turn (R) or a straight line (S),
in one of six words: LSL, RSR, LSR, RSL, RLR, LRL (Dubins, 1957). With the start at the origin of
a frame whose x axis points at the goal, the distance ``d`` (in radii) and the start and goal
headings ``alpha`` and ``beta`` in that frame give each word's segment lengths in closed form;
the shortest word is the path. Poses are ``(x, y, heading)``, headings in radians,
counter-clockwise (L) positive.
"""

from __future__ import annotations

import numpy as np

TWO_PI = 2 * np.pi
Pose = tuple[float, float, float]  # x, y (metres), heading (radians)
Segment = tuple[str, float]  # ("L" | "R" | "S", length in metres)


def _mod(angle: float) -> float:
    return float(angle % TWO_PI)


def _words(alpha: float, beta: float, d: float) -> list[tuple[str, tuple[float, float, float]]]:
    """Each feasible word with its three segment lengths in radii (turns: angles; S: length)."""
    sa, sb, ca, cb = np.sin(alpha), np.sin(beta), np.cos(alpha), np.cos(beta)
    cab = np.cos(alpha - beta)
    words = []
    p2 = 2 + d * d - 2 * cab + 2 * d * (sa - sb)
    if p2 >= 0:
        t = np.arctan2(cb - ca, d + sa - sb)
        words.append(("LSL", (_mod(t - alpha), np.sqrt(p2), _mod(beta - t))))
    p2 = 2 + d * d - 2 * cab + 2 * d * (sb - sa)
    if p2 >= 0:
        t = np.arctan2(ca - cb, d - sa + sb)
        words.append(("RSR", (_mod(alpha - t), np.sqrt(p2), _mod(t - beta))))
    p2 = -2 + d * d + 2 * cab + 2 * d * (sa + sb)
    if p2 >= 0:
        p = np.sqrt(p2)
        t = np.arctan2(-ca - cb, d + sa + sb) - np.arctan2(-2.0, p)
        words.append(("LSR", (_mod(t - alpha), p, _mod(t - beta))))
    p2 = -2 + d * d + 2 * cab - 2 * d * (sa + sb)
    if p2 >= 0:
        p = np.sqrt(p2)
        t = np.arctan2(ca + cb, d - sa - sb) - np.arctan2(2.0, p)
        words.append(("RSL", (_mod(alpha - t), p, _mod(beta - t))))
    c = (6 - d * d + 2 * cab + 2 * d * (sa - sb)) / 8
    if abs(c) <= 1:
        p = _mod(TWO_PI - np.arccos(c))
        t = _mod(alpha - np.arctan2(ca - cb, d - sa + sb) + p / 2)
        words.append(("RLR", (t, p, _mod(alpha - beta - t + p))))
    c = (6 - d * d + 2 * cab + 2 * d * (sb - sa)) / 8
    if abs(c) <= 1:
        p = _mod(TWO_PI - np.arccos(c))
        t = _mod(-alpha - np.arctan2(ca - cb, d + sa - sb) + p / 2)
        words.append(("LRL", (t, p, _mod(beta - alpha - t + p))))
    return words


def dubins_path(start: Pose, goal: Pose, radius: float) -> list[Segment]:
    """The shortest Dubins path from ``start`` to ``goal``: three (letter, metres) segments."""
    dx, dy = goal[0] - start[0], goal[1] - start[1]
    phi = np.arctan2(dy, dx)
    d = np.hypot(dx, dy) / radius
    alpha, beta = _mod(start[2] - phi), _mod(goal[2] - phi)
    word, lengths = min(_words(alpha, beta, d), key=lambda w: sum(w[1]))
    return [(letter, float(n * radius)) for letter, n in zip(word, lengths, strict=True)]


def path_length(segments: list[Segment]) -> float:
    """Total length of the path (metres)."""
    return float(sum(length for _, length in segments))


def path_poses(
    start: Pose, segments: list[Segment], radius: float, spacing: float = 0.5
) -> np.ndarray:
    """Poses ``(N, 3)`` along the path, about ``spacing`` metres apart (each segment's end
    included), in closed form."""
    poses = []
    for letter, length in segments:
        s = np.append(np.arange(spacing, length, spacing), length)
        poses.append(segment_poses(start, letter, radius, s))
        start = tuple(poses[-1][-1])
    return np.concatenate(poses) if poses else np.zeros((0, 3))


def segment_poses(start: Pose, letter: str, radius: float, s: np.ndarray) -> np.ndarray:
    """Poses ``(N, 3)`` at distances ``s`` (metres; negative: driving backwards) along one
    segment ("L", "R" or "S") from ``start``."""
    x, y, h = start
    if letter == "S":
        return np.stack([x + s * np.cos(h), y + s * np.sin(h), np.full_like(s, h)], axis=1)
    turn = 1.0 if letter == "L" else -1.0
    cx, cy = x - turn * radius * np.sin(h), y + turn * radius * np.cos(h)  # the circle's centre
    hs = h + turn * s / radius
    return np.stack([cx + turn * radius * np.sin(hs), cy - turn * radius * np.cos(hs), hs], 1)
