"""Where training runs: the `tf.distribute` strategy for `--strategy`, the batch and learning rate it
implies, and which process may write the model.

Imports TensorFlow inside functions only: training only. A multi-worker strategy must be chosen before any
other TensorFlow call of the process (TensorFlow fixes its cluster when it initialises).
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from dataclasses import dataclass
from typing import Any

from autocomplete.config import STRATEGIES
from autocomplete.errors import UsageError

TRAINING_TASKS = ("chief", "worker")  # the task types MultiWorkerMirroredStrategy trains with


@dataclass(frozen=True)
class Cluster:
    """A validated TF_CONFIG: the hosts of each task type, and which of them this process is."""

    tasks: dict[str, list[str]]  # task type -> ["host:port", ...]
    task_type: str
    task_index: int

    @property
    def size(self) -> int:
        return sum(len(hosts) for hosts in self.tasks.values())

    @property
    def address(self) -> str:
        return self.tasks[self.task_type][self.task_index]

    @property
    def is_chief(self) -> bool:
        """The task of type chief, or worker 0 when there is none (TensorFlow's rule)."""
        if "chief" in self.tasks:
            return self.task_type == "chief"
        return self.task_type == "worker" and self.task_index == 0

    def peers(self) -> list[tuple[str, int, str]]:
        """(task type, index, "host:port") of every other task."""
        return [
            (kind, i, host)
            for kind, hosts in self.tasks.items()
            for i, host in enumerate(hosts)
            if (kind, i) != (self.task_type, self.task_index)
        ]


def read_cluster(text: str | None = None) -> Cluster | None:
    """TF_CONFIG (from the environment when `text` is None) checked, or None when it is unset or empty.
    Raises UsageError, one line, for malformed JSON, a missing cluster or task, an unknown task type, or
    an index out of range."""
    text = os.environ.get("TF_CONFIG", "") if text is None else text
    if not text.strip():
        return None
    fix = "see the README's 'Training on several machines'"
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(
            f"TF_CONFIG is not valid JSON ({error.msg} at character {error.pos}); {fix}"
        ) from None
    if not isinstance(config, dict):
        raise UsageError(f'TF_CONFIG must be a JSON object with "cluster" and "task"; {fix}')
    cluster, task = config.get("cluster"), config.get("task")
    if not isinstance(cluster, dict) or not cluster:
        raise UsageError(f'TF_CONFIG has no "cluster" (task type -> list of "host:port"); {fix}')
    for kind, hosts in cluster.items():
        if kind not in TRAINING_TASKS:
            raise UsageError(
                f"TF_CONFIG's cluster has task type {kind!r}: only chief and worker are supported"
            )
        if not isinstance(hosts, list) or not hosts or not all(_is_address(h) for h in hosts):
            raise UsageError(f'TF_CONFIG\'s cluster {kind!r} must be a list of "host:port" (got {hosts!r})')
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise UsageError(f'TF_CONFIG has no "task" {{"type": ..., "index": ...}} for this host; {fix}')
    kind, index = task["type"], task["index"]
    if kind not in cluster:
        raise UsageError(f"TF_CONFIG's task type {kind!r} is not in its cluster ({', '.join(cluster)})")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(cluster[kind]):
        raise UsageError(
            f"TF_CONFIG's task index {index!r} is out of range: the cluster has {len(cluster[kind])} {kind} "
            f"task{'s' * (len(cluster[kind]) != 1)} (indices from 0)"
        )
    return Cluster({k: list(v) for k, v in cluster.items()}, kind, index)


def _is_address(host: object) -> bool:
    if not isinstance(host, str) or ":" not in host:
        return False
    port = host.rpartition(":")[2]
    return port.isdigit() and 0 < int(port) < 65536


def is_chief(strategy: str = "auto") -> bool:
    """Whether this process writes the model: the chief of the cluster it trains in, or the only process."""
    cluster = cluster_for(strategy)
    return cluster is None or cluster.is_chief


@dataclass(frozen=True)
class Placement:
    """A strategy and the figures it implies (`scaled`)."""

    strategy: Any  # tf.distribute.Strategy
    replicas: int  # model copies trained in step: devices × workers
    batch_size: int  # the global batch, split among the replicas
    learning_rate: float
    chief: bool  # only the chief writes the model
    distributed: bool  # not the default strategy: fit reads the tf.data pipeline, not arrays


def scaled(batch_size: int, learning_rate: float, replicas: int) -> tuple[int, float]:
    """(global batch, learning rate) for `replicas` copies of a model configured for one device.

    The rule: every replica keeps the configured batch (`--batch-size` is per replica), so the global batch
    is batch_size × replicas and each step sees that many windows; the learning rate grows in proportion
    (the linear scaling rule, Goyal et al. 2017, "Accurate, Large Minibatch SGD"), so an epoch moves the
    weights about as far as on one device in replicas times fewer steps. One replica changes nothing."""
    return batch_size * replicas, learning_rate * replicas


def cluster_for(name: str) -> Cluster | None:
    """The cluster `--strategy NAME` trains in: TF_CONFIG's for multiworker, and for auto when TF_CONFIG names
    more than one task; None when this process trains alone (default and mirrored never read TF_CONFIG).
    Raises UsageError, one line, for an unknown name, a malformed TF_CONFIG or multiworker without one.
    No TensorFlow: a bad setting fails before the corpus is read."""
    if name not in STRATEGIES:
        raise UsageError(f"unknown strategy {name!r}: choose one of {', '.join(STRATEGIES)}")
    if name not in ("auto", "multiworker"):
        return None
    cluster = read_cluster()
    if name == "multiworker" and cluster is None:
        raise UsageError("--strategy multiworker needs TF_CONFIG describing the cluster; see the README")
    if name == "multiworker" or (cluster is not None and cluster.size > 1):
        return cluster
    return None


def choose_strategy(name: str, timeout_seconds: float = 120.0):
    """The `tf.distribute.Strategy` for `--strategy NAME`:

    - auto: MultiWorkerMirroredStrategy when TF_CONFIG describes a cluster of more than one task, else
      MirroredStrategy over the local GPUs when there are several, else the default strategy (one device);
    - default: `tf.distribute.get_strategy()`, one device, as a plain `model.fit`;
    - mirrored: MirroredStrategy over every local GPU, or every logical CPU device when there is no GPU;
    - multiworker: MultiWorkerMirroredStrategy (TF_CONFIG required), even for a cluster of one task.

    Before a multi-worker strategy is made, every other task of the cluster must accept a connection within
    `timeout_seconds` (TensorFlow itself would wait for it without end); else UsageError, one line."""
    cluster = cluster_for(name)
    if cluster is not None:
        return _multi_worker(cluster, timeout_seconds)
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    gpus = tf.config.list_logical_devices("GPU")
    if name == "mirrored":
        devices = gpus or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy([d.name for d in gpus])
    return tf.distribute.get_strategy()


def placement(name: str, batch_size: int, learning_rate: float, timeout_seconds: float = 120.0) -> Placement:
    """choose_strategy, with the global batch and learning rate scaled to its replicas."""
    return placed(choose_strategy(name, timeout_seconds), name, batch_size, learning_rate)


def placed(strategy, name: str, batch_size: int, learning_rate: float) -> Placement:
    """The Placement of a strategy already made for `--strategy NAME` (a model's `distribute_strategy`)."""
    import tensorflow as tf

    replicas = int(strategy.num_replicas_in_sync)
    batch, rate = scaled(batch_size, learning_rate, replicas)
    default = strategy is tf.distribute.get_strategy()  # called outside any scope: the default strategy
    return Placement(strategy, replicas, batch, rate, is_chief(name), not default)


def _multi_worker(cluster: Cluster, timeout_seconds: float):
    _wait_for_peers(cluster, timeout_seconds)
    import tensorflow as tf

    try:
        return tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as error:  # the process had already initialised TensorFlow on its own
        raise UsageError(f"cannot start multi-worker training in this process: {error}") from None
    except (tf.errors.DeadlineExceededError, tf.errors.UnavailableError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UsageError(f"the cluster in TF_CONFIG did not form: {first}") from None


def _wait_for_peers(cluster: Cluster, timeout_seconds: float) -> None:
    """Return once every peer of the cluster has accepted a TCP connection, or raise UsageError after
    `timeout_seconds`. Meanwhile this task listens on its own address (never accepting: the kernel completes
    the handshake), so peers that wait the same way see it before its TensorFlow server starts."""
    host, _, port = cluster.address.rpartition(":")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("" if host in ("localhost", "0.0.0.0") else host, int(port)))
        listener.listen(16)
    except OSError as error:
        listener.close()
        raise UsageError(
            f"cannot listen on {cluster.address} ({cluster.task_type} {cluster.task_index} in TF_CONFIG): "
            f"{error.strerror or error}; free the port or fix TF_CONFIG"
        ) from None
    try:
        deadline = time.monotonic() + timeout_seconds
        waiting = cluster.peers()
        while waiting:
            waiting = [peer for peer in waiting if not _answers(peer[2])]
            if waiting and time.monotonic() >= deadline:
                kind, index, address = waiting[0]
                raise UsageError(
                    f"{kind} {index} of TF_CONFIG ({address}) did not answer within {timeout_seconds:g} s: "
                    "start the training there too, or fix TF_CONFIG"
                )
            if waiting:
                time.sleep(0.2)
    finally:
        listener.close()


def _answers(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1.0):
            return True
    except OSError:
        return False


def chief_decides(where: Placement):
    """On several workers, a function (improved, stop) -> the chief's (improved, stop), so every worker
    keeps the same epoch and stops after the same one: each computes the validation figures on its own, and
    hosts may round them differently (a worker that stopped alone would leave the others waiting). None for
    one process."""
    import tensorflow as tf

    strategy = where.strategy
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return None

    @tf.function(autograph=False)  # eager collectives warn of their overhead; autograph writes to $TMPDIR
    def summed(flags):
        return strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(lambda: flags), axis=None)

    def decide(improved: bool, stop: bool) -> tuple[bool, bool]:
        mine = [float(improved), float(stop)] if where.chief else [0.0, 0.0]
        total = summed(tf.constant(mine)).numpy()
        return bool(total[0] > 0), bool(total[1] > 0)

    return decide


def lost_worker(error: Exception, cluster: Cluster | None = None) -> str:
    """The one line for a TensorFlow error that aborted the cluster's collective ops mid-training: which
    task stopped answering, when TensorFlow names it or, failing that, the first peer of `cluster` whose
    address no longer takes a connection (TensorFlow's text depends on which op saw the loss first)."""
    text = re.sub(r"\{\{.*?\}\}\s*", "", str(error))  # TensorFlow's {{function_node ...}} prefix
    unhealthy = re.search(r"unhealthy[^/]*/job:(\w+)/replica:\d+/task:(\d+)", text)
    silent = [] if unhealthy or cluster is None else [p for p in cluster.peers() if not _answers(p[2])]
    if unhealthy:
        what = f"{unhealthy[1]} {unhealthy[2]} of TF_CONFIG stopped answering during training"
    elif silent:
        what = f"{silent[0][0]} {silent[0][1]} of TF_CONFIG stopped answering during training"
    else:
        first = next((line.strip() for line in text.splitlines() if line.strip()), type(error).__name__)
        what = f"the cluster of TF_CONFIG failed during training ({first})"
    return f"{what}: this process saved nothing; start the training again on every host"


def fit_under(model, context: int) -> None:
    """Let Keras 3 `model.fit` (and `evaluate`) run on more than one worker, where two open bugs stop it
    (keras-team/keras#20585): before the first step it reduces the first distributed batch, a tuple, as one
    tensor, to learn its shapes; and it reduces each step's scalar logs along an axis 0 they lack. So hand
    it a local batch of zeros (contexts (1, context), targets (1,)) for the first, and give the logs that
    axis (shape (1,), reduced back to scalars across the workers). A no-op for other strategies. Call once,
    after `compile`, on the model made in the strategy's scope."""
    import tensorflow as tf

    strategy = model.distribute_strategy
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return
    if not strategy.extended._in_multi_worker_mode():  # private, as Keras asks it
        return
    sample = (tf.zeros([1, context], tf.int32), tf.zeros([1], tf.int32))
    build = model._maybe_symbolic_build  # private: where the first bug lives
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: build(data_batch=sample)
    for name in ("train_step", "test_step"):
        step = getattr(model, name)

        def with_axis(data, step=step):
            return tf.nest.map_structure(lambda v: tf.reshape(v, [1]), step(data))

        setattr(model, name, with_axis)
