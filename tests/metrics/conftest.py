"""Seeded inputs shared by the metric tests: softmax probabilities with targets, and padding rows."""

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import strategies as st

PAD = -100


def _random_inputs(seed, n=60, n_classes=4, peak=2.0):
    """Seeded softmax probabilities (N, C) and targets that agree with them more often than chance."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, n_classes)) * peak
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    target = np.where(rng.random(n) < 0.6, probs.argmax(axis=1), rng.integers(0, n_classes, n))
    return probs, target


def _pad(probs, target, n_pad, seed=0, fill=np.nan):
    """Interleave `n_pad` padding rows (target PAD, probabilities `fill`) at random positions."""
    rng = np.random.default_rng(seed)
    n = len(target) + n_pad
    pad_pos = rng.choice(n, n_pad, replace=False)
    keep = np.ones(n, bool)
    keep[pad_pos] = False
    out_probs = np.full((n, probs.shape[1]), fill)
    out_target = np.full(n, PAD)
    out_probs[keep], out_target[keep] = probs, target
    return out_probs, out_target


@st.composite
def _probs_and_target(draw):
    """Hypothesis strategy: Dirichlet probabilities (N, C), N in [1, 30], C in [2, 5], and uniform targets."""
    n = draw(st.integers(1, 30))
    n_classes = draw(st.integers(2, 5))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(n_classes, draw(st.sampled_from([0.1, 1.0, 10.0]))), size=n)
    probs = probs / probs.sum(axis=1, keepdims=True)
    return probs, rng.integers(0, n_classes, n)


@pytest.fixture(scope="session")
def inputs():
    """``inputs.random(seed, n, n_classes, peak)``, ``inputs.pad(probs, target, n_pad, seed, fill)``, ``inputs.PAD``
    and the Hypothesis strategy ``inputs.probs_and_target()`` (draw it with ``st.data()``)."""
    return SimpleNamespace(random=_random_inputs, pad=_pad, PAD=PAD, probs_and_target=_probs_and_target)
