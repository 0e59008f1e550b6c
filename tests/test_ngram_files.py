"""The n-gram saved as .npy files and memory-mapped: the same predictions as the .npz-loaded model."""

from __future__ import annotations

import numpy as np
import pytest

from autocomplete.ngram import KneserNey
from autocomplete.ngram_files import array_names, load_folder, save_folder

FIRST_ID = 3


@pytest.fixture(scope="module", params=[(2, None, 0), (3, None, 0), (3, 0.75, 1), (4, None, (0, 1, 1))])
def model(request):
    order, discount, prune = request.param
    rng = np.random.default_rng(order)
    ids = rng.zipf(1.3, size=3000) % 40 + FIRST_ID  # a few frequent words, many rare: every count class
    return KneserNey.fit(ids, 43, order, discount, prune=prune), ids


def npz_model(model, tmp_path) -> KneserNey:
    np.savez(tmp_path / "ngram.npz", **model.to_arrays())
    with np.load(tmp_path / "ngram.npz", allow_pickle=False) as arrays:
        return KneserNey.from_arrays(arrays)


def test_the_mapped_model_predicts_as_the_npz_one(model, tmp_path):
    fitted, ids = model
    save_folder(fitted, tmp_path / "ngram")
    mapped = load_folder(tmp_path / "ngram")
    expected = npz_model(fitted, tmp_path)
    assert sorted(p.stem for p in (tmp_path / "ngram").iterdir()) == sorted(array_names(fitted.order))
    assert all(isinstance(level.vals, np.memmap) for level in mapped.levels)
    n = fitted.order - 1
    contexts = [ids[i : i + n] for i in range(0, 600, 3)] + [[], [0], [FIRST_ID] * n, [42] * n]
    for context in contexts:
        np.testing.assert_array_equal(mapped.next_word_probs(context), expected.next_word_probs(context))


def test_the_mapped_arrays_are_the_models(model, tmp_path):
    fitted, _ = model
    save_folder(fitted, tmp_path / "ngram")
    mapped = load_folder(tmp_path / "ngram")
    for name, array in fitted.to_arrays().items():
        np.testing.assert_array_equal(mapped.to_arrays()[name], array, err_msg=name)
    for kept, level, d in zip(mapped._kept, fitted.levels, fitted.discounts, strict=True):
        expected = np.maximum(level.vals - d[np.minimum(level.vals, 3).astype(int)], 0.0)
        np.testing.assert_array_equal(kept[0 : len(level.vals)], expected)
    for left, expected in zip(mapped._left, fitted._left, strict=True):
        np.testing.assert_array_equal(left, expected)


def test_a_missing_file_is_named(model, tmp_path):
    fitted, _ = model
    save_folder(fitted, tmp_path / "ngram")
    (tmp_path / "ngram" / "l1_left.npy").unlink()
    with pytest.raises(FileNotFoundError, match=r"^\[Errno 2\] l1_left\.npy is missing$"):
        load_folder(tmp_path / "ngram")


def test_discounts_that_do_not_fit_the_order(model, tmp_path):
    fitted, _ = model
    save_folder(fitted, tmp_path / "ngram")
    np.save(tmp_path / "ngram" / "discounts.npy", np.zeros((7, 4)))
    with pytest.raises(ValueError, match="the n-gram's discounts do not fit its order"):
        load_folder(tmp_path / "ngram")
