"""--softmax-samples: a cheaper training step, and a model that is the full softmax's."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from autocomplete.config import TrainConfig
from autocomplete.dataset import windows
from autocomplete.vocab import FIRST_WORD_ID

VOCAB = 200


def a_fixed_sequence() -> tuple[np.ndarray, np.ndarray]:
    """Every word once in a shuffled order, 30 times over: each pair of words has one next word."""
    order = np.random.default_rng(0).permutation(np.arange(FIRST_WORD_ID, VOCAB))
    return windows(np.tile(order, 30), 2)


def fitted(config: TrainConfig, epochs: int):
    from autocomplete.model import build_model, import_keras

    keras = import_keras()
    keras.utils.set_random_seed(0)
    model = build_model(VOCAB, config)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="sparse_categorical_crossentropy")
    x, y = a_fixed_sequence()
    history = model.fit(x, y, batch_size=512, epochs=epochs, shuffle=True, verbose=0)
    return model, history.history["loss"]


@pytest.mark.slow
@pytest.mark.parametrize("tied", [True, False])
def test_a_sampled_softmax_learns_what_the_full_softmax_then_predicts(tied):
    config = replace(TrainConfig(), softmax_samples=10, dropout=0.0, tie_embeddings=tied)
    model, losses = fitted(config, epochs=40)
    assert type(model).__name__ == "SampledSoftmax"
    x, y = a_fixed_sequence()
    probabilities = model.predict(x, batch_size=1024, verbose=0)  # the full softmax, over all 200 words
    assert probabilities.shape == (len(y), VOCAB)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert (probabilities.argmax(axis=1) == y).mean() == 1.0
    # The loss fit reports is the sampled one: scored against 11 words, it starts below the full softmax's
    # log(200) = 5.3 (which starts at 5.2 here), even below log(11) = 2.4; and it fell
    assert losses[0] < np.log(11) and losses[-1] < losses[0] / 100


@pytest.mark.slow
def test_as_many_samples_as_words_is_the_full_softmax():
    from autocomplete.model import build_model

    for samples in (0, VOCAB, VOCAB + 1):
        model = build_model(VOCAB, replace(TrainConfig(), softmax_samples=samples))
        assert type(model).__name__ == "Functional"


@pytest.mark.slow
def test_the_refit_model_trains_the_same_layers_through_the_full_softmax():
    from autocomplete.model import full_softmax, import_keras

    keras = import_keras()
    sampled, _ = fitted(replace(TrainConfig(), softmax_samples=10, dropout=0.0), epochs=2)
    full = full_softmax(sampled)
    assert type(full).__name__ == "Functional" and full_softmax(full) is full
    full.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="sparse_categorical_crossentropy")
    x, y = a_fixed_sequence()
    before = sampled.get_weights()
    p = sampled.predict(x, batch_size=1024, verbose=0)
    # Its loss is the full softmax's cross-entropy over all 200 words, not the sampled estimate
    full_loss = -np.log(p[np.arange(len(y)), y]).mean()
    np.testing.assert_allclose(full.evaluate(x, y, batch_size=1024, verbose=0), full_loss, rtol=1e-4)
    full.fit(x, y, batch_size=512, epochs=1, verbose=0)
    after = sampled.get_weights()  # training the full model moved the sampled model's own weights
    assert all(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    for a, b in zip(after, full.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
