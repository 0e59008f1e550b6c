"""One training process for tests/test_distribute.py (not collected: no test_ prefix).

python tests/distributed_job.py CORPUS OUT --strategy NAME [--logical-cpus N] [--timeout S]

Chooses the strategy (before any other TensorFlow call, as multi-worker training needs), trains the project's
model for one epoch on the tf.data pipeline, prints one JSON line (replicas, batch, learning rate, chief,
loss, a checksum of the weights) and, on the chief only, writes OUT/weights.npz. A user error: one line on
stderr and exit 2, as the CLI does.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np

from autocomplete import devices
from autocomplete.config import TrainConfig
from autocomplete.dataset import lstm_vocab_size, prepare
from autocomplete.errors import AutocompleteError
from autocomplete.pipeline import distributed_windows

CONFIG = TrainConfig(epochs=1, embedding_dim=8, units=16, hidden=8, batch_size=32, refit_epochs=0)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--strategy", default="auto")
    parser.add_argument("--logical-cpus", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if args.logical_cpus:
        import tensorflow as tf

        (cpu,) = tf.config.list_physical_devices("CPU")
        split = [tf.config.LogicalDeviceConfiguration()] * args.logical_cpus
        tf.config.set_logical_device_configuration(cpu, split)
    try:
        where = devices.placement(args.strategy, CONFIG.batch_size, CONFIG.learning_rate, args.timeout)
    except AutocompleteError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(train(args.corpus, args.out, where)), flush=True)
    return 0


def train(corpus_path: Path, out: Path, where: devices.Placement) -> dict:
    from autocomplete.model import build_model, export_weights, import_keras

    keras = import_keras()
    keras.utils.set_random_seed(CONFIG.seed)
    corpus = prepare([corpus_path], CONFIG)
    f = lstm_vocab_size(corpus, CONFIG)
    with where.strategy.scope():
        model = build_model(f, CONFIG)
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=where.learning_rate),
            loss="sparse_categorical_crossentropy",
        )
    data = distributed_windows(where.strategy, corpus.ids, CONFIG.context, 0, len(corpus.ids),
                               where.batch_size, seed=0, lstm_vocab=f)  # fmt: skip
    devices.fit_under(model, CONFIG.context)
    history = model.fit(data, epochs=CONFIG.epochs, verbose=0, shuffle=False)
    weights = export_weights(model).to_arrays()
    if where.chief:
        out.mkdir(parents=True, exist_ok=True)
        np.savez(out / "weights.npz", **weights)
    digest = hashlib.sha256(b"".join(np.ascontiguousarray(w).tobytes() for w in weights.values()))
    return {
        "replicas": where.replicas, "batch_size": where.batch_size, "learning_rate": where.learning_rate,
        "chief": where.chief, "loss": history.history["loss"], "weights_sha256": digest.hexdigest(),
        "devices": [d for d in where.strategy.extended.worker_devices],
    }  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
