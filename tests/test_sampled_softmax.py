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
