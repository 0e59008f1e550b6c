"""The Keras model: Embedding -> LSTM -> Dense(relu) -> Dense(softmax), as in the course.

Imports Keras: training only."""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import replace

import numpy as np

from autocomplete.config import TrainConfig
from autocomplete.inference import LstmWeights
from autocomplete.interrupts import signals_held


def import_keras():
    """Keras, imported with TensorFlow's C++ start-up chatter (CUDA probes on a CPU machine) kept off the
    terminal."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "keras" in sys.modules:
        return sys.modules["keras"]
    with _stderr_silenced(), signals_held():
        import keras
    return keras


@contextlib.contextmanager
def _stderr_silenced():
    """Point file descriptor 2 at /dev/null for the duration: the chatter is written by C++, below Python."""
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all: nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def build_model(vocab_size: int, config: TrainConfig):
    """An uncompiled Keras model: int ids (batch, context) -> next-word probabilities (batch, V)."""
    keras = import_keras()
    layers = keras.layers

    inputs = keras.Input(shape=(config.context,), dtype="int32", name="context_ids")
    embedding = layers.Embedding(vocab_size, config.embedding_dim, name="embedding")
    x = embedding(inputs)
    x = layers.LSTM(config.units, name="lstm")(x)
    if config.dropout:
        x = layers.Dropout(config.dropout)(x)
    x = layers.Dense(config.hidden, activation="relu", name="hidden")(x)
    if config.dropout:
        x = layers.Dropout(config.dropout)(x)
    if config.tie_embeddings:
        outputs = _tied_output(keras, embedding)(x)
    else:
        outputs = layers.Dense(vocab_size, activation="softmax", name="output")(x)
    if config.softmax_samples and config.softmax_samples < vocab_size:
        return _sampled_softmax_model(keras, inputs, outputs, keras.Model(inputs, x), config.softmax_samples)
    return keras.Model(inputs, outputs, name="next_word")


def _sampled_softmax_model(keras, inputs, outputs, features, samples: int):
    """The model, whose training loss is the sampled softmax's (Jean et al., 2015, "On using very large target
    vocabulary"): each step scores the true words against `samples` words drawn log-uniformly (ids are
    ranked by count, so that is Zipf's law), not against all V, with the log-probability of each draw
    subtracted so the estimate stays consistent. Predicting, validating and the saved weights are the full
    softmax's: only the step is cheaper. `features` is the model up to the softmax's input."""
    import tensorflow as tf

    class SampledSoftmax(keras.Model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.loss_tracker = keras.metrics.Mean(name="loss")

        @property
        def metrics(self):
            return [self.loss_tracker]

        def train_step(self, data):
            x, y = data[0], data[1]
            output = self.get_layer("output")
            with tf.GradientTape() as tape:
                if len(output.weights) == 1:  # tied: the softmax's matrix is the embedding's
                    matrix, bias = self.get_layer("embedding").embeddings, output.weights[0]
                else:
                    matrix, bias = tf.transpose(output.weights[0]), output.weights[1]
                loss = tf.reduce_mean(tf.nn.sampled_softmax_loss(
                    weights=matrix, biases=bias, labels=tf.reshape(tf.cast(y, tf.int64), (-1, 1)),
                    inputs=features(x, training=True), num_sampled=samples, num_classes=bias.shape[0],
                ))  # fmt: skip
                # As Keras' own step: each replica's loss over its share of the batch, the gradients summed
                scaled = loss / tf.distribute.get_strategy().num_replicas_in_sync
            gradients = tape.gradient(scaled, self.trainable_weights)
            self.optimizer.apply_gradients(zip(gradients, self.trainable_weights, strict=True))
            self.loss_tracker.update_state(loss, sample_weight=tf.shape(y)[0])
            return {"loss": self.loss_tracker.result()}

    return SampledSoftmax(inputs, outputs, name="next_word")


def full_softmax(model):
    """The model with Keras' own training step, over the full softmax: `model` itself, or for a sampled
    softmax's a model of the same layers (training it trains theirs), for the refit to polish every word."""
    if type(model).__name__ != "SampledSoftmax":
        return model
    return import_keras().Model(model.inputs, model.outputs, name="next_word")


def _tied_output(keras, embedding):
    """The softmax layer that reuses the embedding matrix E as its kernel, softmax(x @ E^T + b): a word's
    input and output vectors are one (Press & Wolf, 2017, "Using the output embedding to improve language
    models"). Training only: the saved model holds the same weights in a plain Dense layer."""

    class TiedOutput(keras.layers.Layer):
        def build(self, input_shape):
            self.bias = self.add_weight(shape=(embedding.input_dim,), initializer="zeros", name="bias")

        def call(self, x):
            return keras.ops.softmax(
                keras.ops.matmul(x, keras.ops.transpose(embedding.embeddings)) + self.bias
            )

    return TiedOutput(name="output")


def export_weights(model) -> LstmWeights:
    """The numbers the numpy forward pass needs, taken from the Keras layers by name."""
    get = lambda name: [np.asarray(w, dtype=np.float32) for w in model.get_layer(name).get_weights()]  # noqa: E731
    (embedding,) = get("embedding")
    kernel, recurrent, bias = get("lstm")
    hidden_kernel, hidden_bias = get("hidden")
    output = get("output")  # [kernel, bias], or [bias] when the kernel is the embedding's (tied)
    output_kernel, output_bias = (
        output if len(output) == 2 else (np.ascontiguousarray(embedding.T), output[0])
    )
    return LstmWeights(
        embedding, kernel, recurrent, bias, hidden_kernel, hidden_bias, output_kernel, output_bias
    )


def save_keras(lstm: LstmWeights, config: TrainConfig, path) -> None:
    """The network as a .keras file: no optimizer state (a third of the size), and a plain Dense softmax
    even when training tied it."""
    clean = build_model(lstm.vocab_size, replace(config, tie_embeddings=False))
    clean.set_weights(list(lstm.to_arrays().values()))
    try:
        clean.save(path)
    except OSError:
        raise
    except Exception as e:  # h5py and zipfile report a failed write in types of their own
        raise OSError(f"{path.name}: {e or type(e).__name__}") from e  # the store reports OSError cleanly


def load_keras_model(path):
    """The saved Keras model, for checks that need Keras itself. safe_mode=True refuses Lambda layers, whose
    Python code would run on load; the interactive path never loads this file (it reads weights.npz)."""
    keras = import_keras()
    return keras.saving.load_model(path, compile=False, safe_mode=True)
