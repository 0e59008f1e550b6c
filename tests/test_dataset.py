"""Training data: the course's sliding windows, the validation tail, the LSTM's vocabulary."""

from __future__ import annotations

import numpy as np
import pytest

from autocomplete.dataset import windows

# The course's sliding windows: every run of N+1 consecutive tokens is one example.


def test_windows_every_run_of_n_plus_one():
    ids = np.arange(10, 16, dtype=np.int32)  # 6 tokens
    contexts, targets = windows(ids, 2)
    assert contexts.shape == (4, 2) and targets.shape == (4,)
    assert contexts.dtype == np.int32 and targets.dtype == np.int32
    assert contexts.tolist() == [[10, 11], [11, 12], [12, 13], [13, 14]]
    assert targets.tolist() == [12, 13, 14, 15]


@pytest.mark.parametrize("context", [1, 3, 5])
def test_windows_shapes(context):
    ids = np.random.default_rng(0).integers(0, 50, size=40)
    contexts, targets = windows(ids, context)
    assert contexts.shape == (40 - context, context) and targets.shape == (40 - context,)
    for i in (0, 17, 40 - context - 1):
        assert contexts[i].tolist() == ids[i : i + context].tolist() and targets[i] == ids[i + context]


def test_windows_of_exactly_n_plus_one_tokens():
    contexts, targets = windows(np.array([1, 2, 3]), 2)
    assert contexts.tolist() == [[1, 2]] and targets.tolist() == [3]


@pytest.mark.parametrize("length", [0, 1, 2])
def test_windows_of_too_short_input_are_empty(length):
    contexts, targets = windows(np.arange(length), 2)
    assert contexts.shape == (0, 2) and targets.shape == (0,)
    assert contexts.dtype == np.int32 and targets.dtype == np.int32


def test_windows_share_memory_with_the_stream():
    # Stride tricks, not copies: a 185k-word corpus must not be duplicated N+1 times.
    ids = np.arange(1000, dtype=np.int32)
    contexts, targets = windows(ids, 2)
    assert np.shares_memory(contexts, ids) and np.shares_memory(targets, ids)
