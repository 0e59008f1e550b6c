"""Devices: the strategy for --strategy, TF_CONFIG checks, the chief, the scaled batch and learning rate, and
real training under MirroredStrategy (two logical CPUs) and MultiWorkerMirroredStrategy (two processes)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import CLI_ENV, CORPUS_TEXT, TINY, leftovers
from typer.testing import CliRunner

from autocomplete import dataset, devices
from autocomplete.cli import app
from autocomplete.config import TrainConfig
from autocomplete.errors import ExitStatus, UsageError

JOB = Path(__file__).with_name("distributed_job.py")


def tf_config(workers: list[str], index: int, kind: str = "worker", **cluster) -> str:
    return json.dumps({"cluster": {"worker": workers, **cluster}, "task": {"type": kind, "index": index}})


# --- TF_CONFIG and the chief -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"cluster": {"worker": ["a:1"]',
            "TF_CONFIG is not valid JSON (Expecting ',' delimiter at character 30)",
        ),
        ("[1, 2]", 'TF_CONFIG must be a JSON object with "cluster" and "task"'),
        ('{"task": {"type": "worker", "index": 0}}', 'TF_CONFIG has no "cluster"'),
        ('{"cluster": {"worker": ["a:1"]}}', 'TF_CONFIG has no "task"'),
        (
            tf_config(["a:1", "b:2"], 2),
            "TF_CONFIG's task index 2 is out of range: the cluster has 2 worker tasks",
        ),
        (tf_config(["a:1"], -1), "TF_CONFIG's task index -1 is out of range: the cluster has 1 worker task "),
        (tf_config(["a:1"], 0, kind="chief"), "TF_CONFIG's task type 'chief' is not in its cluster (worker)"),
        (tf_config(["a:1"], 0, ps=["c:3"]), "TF_CONFIG's cluster has task type 'ps'"),
        (tf_config(["a"], 0), "TF_CONFIG's cluster 'worker' must be a list of \"host:port\" (got ['a'])"),
        (tf_config(["a:99999"], 0), "TF_CONFIG's cluster 'worker' must be a list of \"host:port\""),
    ],
)
def test_a_bad_tf_config_is_one_line_saying_what_is_wrong(text, message):
    with pytest.raises(UsageError) as caught:
        devices.read_cluster(text)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_a_tf_config_is_read_with_the_task_it_names():
    cluster = devices.read_cluster(tf_config(["a:1", "b:2"], 1, chief=["c:3"]))
    assert cluster == devices.Cluster({"worker": ["a:1", "b:2"], "chief": ["c:3"]}, "worker", 1)
    assert cluster.size == 3 and cluster.address == "b:2"
    assert cluster.peers() == [("worker", 0, "a:1"), ("chief", 0, "c:3")]
    assert devices.read_cluster("") is None and devices.read_cluster("  ") is None


@pytest.mark.parametrize(
    ("text", "chief"),
    [
        (None, True),  # no TF_CONFIG: the only process
        (tf_config(["a:1", "b:2"], 0), True),  # worker 0 when there is no chief
        (tf_config(["a:1", "b:2"], 1), False),
        (tf_config(["a:1"], 0, chief=["c:3"]), False),
        (
            json.dumps(
                {"cluster": {"chief": ["c:3"], "worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}
            ),
            True,
        ),
    ],
)
def test_only_the_chief_writes(monkeypatch, text, chief):
    if text is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", text)
    assert devices.is_chief() is chief


def test_the_batch_and_learning_rate_scale_with_the_replicas():
    assert devices.scaled(512, 3e-3, 1) == (512, 3e-3)
    assert devices.scaled(512, 3e-3, 4) == (2048, 1.2e-2)


def test_an_unknown_strategy_or_multiworker_without_tf_config_is_refused(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(
        UsageError, match=r"^unknown strategy 'gpu': choose one of auto, default, mirrored, multi"
    ):
        devices.choose_strategy("gpu")
    with pytest.raises(UsageError, match=r"^--strategy multiworker needs TF_CONFIG"):
        devices.choose_strategy("multiworker")


@pytest.mark.parametrize(
    ("strategy", "text", "trains_in"),
    [
        ("auto", None, None),
        ("auto", tf_config(["a:1"], 0), None),  # a cluster of one task: this process alone
        ("auto", tf_config(["a:1", "b:2"], 1), "b:2"),
        ("multiworker", tf_config(["a:1"], 0), "a:1"),
        ("default", "{not json", None),  # default and mirrored never read TF_CONFIG
        ("mirrored", tf_config(["a:1", "b:2"], 1), None),
    ],
)
def test_the_cluster_a_strategy_trains_in(monkeypatch, strategy, text, trains_in):
    if text is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", text)
    cluster = devices.cluster_for(strategy)
    assert (cluster.address if cluster else None) == trains_in
    assert devices.is_chief(strategy) is (trains_in != "b:2")  # worker 1 of a cluster leaves the save


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--strategy", "gpu"], "--strategy must be one of auto, default, mirrored, multiworker (got 'gpu')"),
        (["--cluster-timeout", "0"], "--cluster-timeout must be in (0, 86400] seconds (got 0.0)"),
        (
            ["--strategy", "multiworker"],
            "--strategy multiworker needs TF_CONFIG describing the cluster; see the README",
        ),
    ],
)
def test_train_refuses_a_bad_strategy_in_one_line(monkeypatch, corpus_file, store_home, args, message):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    result = CliRunner().invoke(app, ["train", str(corpus_file), *args], env=CLI_ENV)
    assert result.exit_code == ExitStatus.USAGE, result.output
    assert result.stderr == f"error: {message}\n"
    assert leftovers(store_home) == [] and not (store_home / "models" / "corpus").exists()


def test_a_lost_worker_is_named_from_tensorflows_message():
    text = (
        "Graph execution error:\n\nCollective ops is aborted by: Error reported from /job:worker/task:1: The "
        "following tasks are unhealthy (stopped sending heartbeats):\n/job:worker/replica:0/task:1\n"
        "The tasks have crashed."
    )
    assert devices.lost_worker(RuntimeError(text)) == (
        "worker 1 of TF_CONFIG stopped answering during training: this process saved nothing; start the "
        "training again on every host"
    )
    reset = "{{function_node __wrapped__CollectiveReduceV2}} Collective ops is aborted by: recvmsg:Connection"
    assert devices.lost_worker(RuntimeError(f"\n  {reset} reset by peer\nmore")) == (
        "the cluster of TF_CONFIG failed during training (Collective ops is aborted by: recvmsg:Connection "
        "reset by peer): this process saved nothing; start the training again on every host"
    )


def test_a_lost_worker_tensorflow_does_not_name_is_the_peer_that_no_longer_answers():
    vague = RuntimeError("Graph execution error:\n\nsomething failed")
    with socket.socket() as alive:
        alive.bind(("127.0.0.1", 0))
        alive.listen(1)
        here, there = f"127.0.0.1:{free_port()}", f"127.0.0.1:{alive.getsockname()[1]}"
        answering = devices.read_cluster(tf_config([here, there], 0))
        assert devices.lost_worker(vague, answering) == (
            "the cluster of TF_CONFIG failed during training (Graph execution error:): this process saved "
            "nothing; start the training again on every host"
        )
    gone = devices.read_cluster(tf_config([here, there], 0))  # the listener is closed: nobody answers there
    assert devices.lost_worker(vague, gone) == (
        "worker 1 of TF_CONFIG stopped answering during training: this process saved nothing; start the "
        "training again on every host"
    )


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["auto", "default"])
def test_on_one_cpu_auto_is_the_default_strategy_unscaled(monkeypatch, strategy):
    import tensorflow as tf

    monkeypatch.delenv("TF_CONFIG", raising=False)
    where = devices.placement(strategy, 512, 3e-3)
    assert where.strategy is tf.distribute.get_strategy()
    assert (where.replicas, where.batch_size, where.learning_rate) == (1, 512, 3e-3)
    assert where.chief is True and where.distributed is False  # fit keeps today's in-memory arrays


@pytest.mark.slow
def test_the_lstm_keeps_the_configuration_keras_runs_on_cudnn():
    from autocomplete.model import build_model

    config = build_model(50, TINY).get_layer("lstm").get_config()
    assert (config["activation"], config["recurrent_activation"]) == ("tanh", "sigmoid")
    assert config["recurrent_dropout"] == 0 and config["unroll"] is False and config["use_bias"] is True


# --- real processes: `autocomplete train` --------------------------------------------------------------

SIZES = ["--embedding-dim", "8", "--units", "16", "--hidden", "8", "--batch-size", "32", "--epochs", "2",
         "--refit-epochs", "1"]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_corpus(tmp_path, repeat: int = 1) -> Path:
    """tmp_path/corpus.txt, the test corpus `repeat` times (written once: every process reads the same)."""
    corpus = tmp_path / "corpus.txt"
    if not corpus.exists():
        corpus.write_text("\n\n".join([CORPUS_TEXT] * repeat), encoding="utf-8")
    return corpus


def start(tmp_path, *arguments: str, tf_config_text: str | None = None, logical_cpus: int = 0,
          stdout=subprocess.PIPE, repeat: int = 1):  # fmt: skip
    """`autocomplete train CORPUS --name m ...` in a process of its own, in the store tmp_path/home; the
    corpus is the test corpus `repeat` times."""
    corpus = write_corpus(tmp_path, repeat)
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    env.update(AUTOCOMPLETE_HOME=str(tmp_path / "home"), COLUMNS="200")
    if tf_config_text is not None:
        env["TF_CONFIG"] = tf_config_text
    train = [str(corpus), "--name", "m", *SIZES, *arguments]
    command = [sys.executable, str(JOB), str(logical_cpus), *train] if logical_cpus else [
        sys.executable, "-m", "autocomplete", "train", *train]  # fmt: skip
    return subprocess.Popen(command, env=env, stdout=stdout, stderr=subprocess.PIPE, text=True)


def finish(process, timeout: float = 120) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"the process did not end within {timeout} s: {err[-2000:]}")
    return process.returncode, out, err


def store_entries(tmp_path) -> list[str]:
    models = tmp_path / "home" / "models"
    return sorted(p.name for p in models.iterdir()) if models.exists() else []


def meta_of(tmp_path) -> dict:
    return json.loads((tmp_path / "home" / "models" / "m" / "meta.json").read_text(encoding="utf-8"))


def predicts(tmp_path) -> list[str]:
    """The words `autocomplete predict` suggests after "the " with the saved model."""
    env = {**os.environ, "AUTOCOMPLETE_HOME": str(tmp_path / "home")}
    answer = subprocess.run([sys.executable, "-m", "autocomplete", "predict", "the ", "--json"], env=env,
                            capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    data = json.loads(answer.stdout)
    assert data["model"] == "m"
    return [s["word"] for s in data["suggestions"]]


def training_windows(tmp_path, val_split: float) -> int:
    """The windows the first training of the test corpus fits on."""
    ids = dataset.prepare([write_corpus(tmp_path)], TrainConfig()).ids
    n = len(ids) - TrainConfig().context
    return n - dataset.validation_size(n, val_split)


def row(out: str, label: str) -> str:
    """The training summary's row `label`, its words joined by one space (the table's width varies)."""
    (line,) = [line for line in out.splitlines() if line.strip("│ ").startswith(label)]
    return " ".join(line.replace("│", " ").split())


@pytest.mark.slow
def test_mirrored_over_two_logical_cpus_trains_a_model_that_predicts(tmp_path):
    # With the sampled softmax: its step scales its loss for the replicas itself (model.py)
    args = ("--strategy", "mirrored", "--softmax-samples", "8")
    code, out, err = finish(start(tmp_path, *args, logical_cpus=2))
    assert (code, err) == (0, "")
    assert "2, in step: batch and learning rate × 2" in row(out, "replicas")
    meta = meta_of(tmp_path)
    assert meta["replicas"] == 2 and meta["config"]["strategy"] == "mirrored"
    corpus = dataset.prepare([write_corpus(tmp_path)], TrainConfig())
    assert meta["config"]["softmax_samples"] == 8 < dataset.lstm_vocab_size(corpus, TrainConfig())
    assert meta["refit_epochs"] == 1 and meta["interrupted_during"] is None
    assert len(predicts(tmp_path)) == 5


@pytest.mark.slow
def test_two_worker_processes_train_one_model_and_only_the_chief_saves_it(tmp_path):
    # An odd count of training windows in 2 batches per worker: shared out unevenly, the workers' steps
    # would not pair up (one worker's third step meets nothing) and TensorFlow aborts the cluster.
    split = ["--val-split", "0.06", "--batch-size", "113"]
    assert training_windows(tmp_path, 0.06) == 453
    workers = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    jobs = [
        start(tmp_path, "--strategy", "multiworker", *split, tf_config_text=tf_config(workers, i))
        for i in (0, 1)
    ]
    results = [finish(job, timeout=150) for job in jobs]
    assert [code for code, _, _ in results] == [0, 0], [err[-2000:] for _, _, err in results]
    (_, chief, chief_err), (_, worker, worker_err) = results
    assert (chief_err, worker_err) == ("", "")  # no warning from Keras or TensorFlow either
    assert str(tmp_path / "home" / "models" / "m") in row(chief, "saved to")
    assert "nothing here: the chief of TF_CONFIG's cluster saves the model" in row(worker, "saved to")
    assert "Try it" in chief and "Try it" not in worker
    for label in ("replicas", "epochs", "validation", "LSTM alone"):  # one model, trained in step
        assert row(chief, label) == row(worker, label)
    (version,) = [entry for entry in store_entries(tmp_path) if entry != "m"]  # one model folder, no lock
    assert (tmp_path / "home" / "models" / "m").resolve().name == version
    assert meta_of(tmp_path)["replicas"] == 2
    assert len(predicts(tmp_path)) == 5


@pytest.mark.slow
def test_every_worker_acts_on_the_chiefs_stopping_decision(tmp_path):
    # The worker's own rule (patience 0) would stop it at its first epoch without progress; alone, it would
    # leave the chief waiting at its next step. It follows the chief (patience 10) to the end instead.
    fast = ["--epochs", "10", "--learning-rate", "0.05"]  # a rate this high stalls within 10 epochs
    workers = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    jobs = [
        start(tmp_path, *fast, "--patience", patience, tf_config_text=tf_config(workers, i))
        for i, patience in enumerate(["10", "0"])
    ]
    (chief_code, chief, chief_err), (worker_code, worker, _) = [finish(job, timeout=150) for job in jobs]
    assert (chief_code, worker_code) == (0, 0), chief_err[-2000:]
    assert row(chief, "epochs").startswith("epochs 10 (best: ")
    for label in ("epochs", "validation", "LSTM alone"):
        assert row(chief, label) == row(worker, label)


def test_a_malformed_tf_config_ends_in_one_line_before_reading_the_corpus(tmp_path):
    code, out, err = finish(start(tmp_path, tf_config_text="{cluster: worker}"), 60)
    assert (code, out) == (2, "")
    assert err == (
        "error: TF_CONFIG is not valid JSON (Expecting property name enclosed in double quotes at "
        "character 1); see the README's 'Training on several machines'\n"
    )
    assert store_entries(tmp_path) == []


@pytest.mark.slow
@pytest.mark.parametrize("index", [0, 1])  # 0: this task leads the cluster; 1: the leader is missing
def test_an_unreachable_worker_ends_with_a_timeout_message_not_a_hang(tmp_path, index):
    me, missing = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"  # nothing listens on `missing`
    workers = [me, missing] if index == 0 else [missing, me]
    job = start(tmp_path, "--cluster-timeout", "5", tf_config_text=tf_config(workers, index))
    code, out, err = finish(job, timeout=60)
    assert code == 2
    assert err == (
        f"error: worker {1 - index} of TF_CONFIG ({missing}) did not answer within 5 s: start the training "
        "there too, or fix TF_CONFIG\n"
    )
    assert store_entries(tmp_path) == []  # no model, no lock left


FIRST_EPOCH = re.compile(r"^epoch +1/100 ", re.MULTILINE)  # the progress line of a finished first epoch


@pytest.mark.slow
@pytest.mark.parametrize(
    ("how", "worker_ends"),
    [
        (signal.SIGKILL, (-signal.SIGKILL, "")),  # the process dies
        (
            signal.SIGINT,  # Ctrl-C on that host only: it stops, and its peers stop with it
            (
                130,
                "error: training was interrupted during epochs: this process saved nothing (in a cluster "
                "only the chief saves)\n",
            ),
        ),
    ],
)
def test_a_worker_that_stops_mid_training_ends_the_chief_with_one_line(tmp_path, how, worker_ends):
    workers = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    many = ["--epochs", "100", "--patience", "100"]  # the chief is still training when the worker stops
    chief = start(tmp_path, *many, tf_config_text=tf_config(workers, 0), repeat=4)
    log = tmp_path / "worker.out"
    with log.open("w") as out:
        worker = start(tmp_path, *many, tf_config_text=tf_config(workers, 1), stdout=out)
    for _ in range(600):  # until the worker has trained an epoch (at most 120 s)
        if FIRST_EPOCH.search(log.read_text(encoding="utf-8")) or worker.poll() is not None:
            break
        time.sleep(0.2)
    worker.send_signal(how)
    code, out, err = finish(chief, timeout=90)
    assert FIRST_EPOCH.search(out) and "Saving" not in out
    assert (code, err) == (
        1,
        "error: worker 1 of TF_CONFIG stopped answering during training: this process saved nothing; start "
        "the training again on every host\n",
    )
    assert finish(worker, timeout=30)[::2] == worker_ends
    assert store_entries(tmp_path) == []  # no model, no lock left
