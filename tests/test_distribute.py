"""Devices: the strategy for --strategy, TF_CONFIG checks, the chief, the scaled batch and learning rate, and
real training under MirroredStrategy (two logical CPUs) and MultiWorkerMirroredStrategy (two processes)."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import CORPUS_TEXT, TINY

from autocomplete import devices
from autocomplete.errors import UsageError
from autocomplete.inference import WEIGHT_NAMES, LstmWeights, lstm_probs

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


@pytest.mark.slow
def test_the_lstm_keeps_the_configuration_keras_runs_on_cudnn():
    from autocomplete.model import build_model

    config = build_model(50, TINY).get_layer("lstm").get_config()
    assert (config["activation"], config["recurrent_activation"]) == ("tanh", "sigmoid")
    assert config["recurrent_dropout"] == 0 and config["unroll"] is False and config["use_bias"] is True


# --- real processes ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_job(tmp_path, out: Path, *args: str, tf_config_text: str | None = None, timeout: float = 60):
    corpus = tmp_path / "corpus.txt"
    if not corpus.exists():
        corpus.write_text(CORPUS_TEXT, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    if tf_config_text is not None:
        env["TF_CONFIG"] = tf_config_text
    command = [sys.executable, str(JOB), str(corpus), str(out), "--timeout", str(timeout), *args]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process, timeout: float = 120) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"the job did not end within {timeout} s: {err[-2000:]}")
    return process.returncode, out, err


def predicts(path: Path) -> None:
    with np.load(path, allow_pickle=False) as arrays:
        lstm = LstmWeights.from_arrays(arrays)
        assert set(arrays.files) == set(WEIGHT_NAMES)
    probs = lstm_probs(lstm, np.array([[3, 4], [2, 2], [1, 5]], np.int32))
    assert np.isfinite(probs).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def sha256_of(path: Path) -> str:
    with np.load(path, allow_pickle=False) as arrays:
        return hashlib.sha256(
            b"".join(np.ascontiguousarray(arrays[n]).tobytes() for n in WEIGHT_NAMES)
        ).hexdigest()


@pytest.mark.slow
def test_mirrored_over_two_logical_cpus_trains_a_model_that_predicts(tmp_path):
    code, out, err = finish(
        start_job(tmp_path, tmp_path / "out", "--strategy", "mirrored", "--logical-cpus", "2")
    )
    assert code == 0, err[-2000:]
    report = json.loads(out.strip().splitlines()[-1])
    assert report["replicas"] == 2 and report["chief"] is True
    assert [d.rsplit("/", 1)[1] for d in report["devices"]] == ["device:CPU:0", "device:CPU:1"]
    assert (report["batch_size"], report["learning_rate"]) == (64, pytest.approx(6e-3))
    predicts(tmp_path / "out" / "weights.npz")
    assert sha256_of(tmp_path / "out" / "weights.npz") == report["weights_sha256"]


@pytest.mark.slow
def test_two_worker_processes_train_one_model_and_only_the_chief_writes_it(tmp_path):
    workers = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    jobs = [
        start_job(tmp_path, tmp_path / f"out{i}", tf_config_text=tf_config(workers, i), timeout=60)
        for i in (0, 1)
    ]
    results = [finish(job, timeout=150) for job in jobs]
    assert [code for code, _, _ in results] == [0, 0], [err[-2000:] for _, _, err in results]
    reports = [json.loads(out.strip().splitlines()[-1]) for _, out, _ in results]
    assert [r["chief"] for r in reports] == [True, False]
    assert [r["replicas"] for r in reports] == [2, 2] and reports[0]["batch_size"] == 64
    assert reports[0]["weights_sha256"] == reports[1]["weights_sha256"]  # one model, trained in step
    assert reports[0]["loss"] == reports[1]["loss"]
    assert (tmp_path / "out0" / "weights.npz").exists() and not (tmp_path / "out1").exists()
    predicts(tmp_path / "out0" / "weights.npz")
    assert sha256_of(tmp_path / "out0" / "weights.npz") == reports[0]["weights_sha256"]


def test_a_malformed_tf_config_ends_the_process_with_one_line(tmp_path):
    code, out, err = finish(start_job(tmp_path, tmp_path / "out", tf_config_text="{cluster: worker}"), 60)
    assert code == 2 and out == ""
    assert err == (
        "Error: TF_CONFIG is not valid JSON (Expecting property name enclosed in double quotes at "
        "character 1); see the README's 'Training on several machines'\n"
    )


@pytest.mark.slow
@pytest.mark.parametrize("index", [0, 1])  # 0: this task leads the cluster; 1: the leader is missing
def test_an_unreachable_worker_ends_with_a_timeout_message_not_a_hang(tmp_path, index):
    me, missing = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"  # nothing listens on `missing`
    workers = [me, missing] if index == 0 else [missing, me]
    job = start_job(tmp_path, tmp_path / "out", tf_config_text=tf_config(workers, index), timeout=5)
    code, out, err = finish(job, timeout=60)
    assert code == 2 and out == ""
    assert err == (
        f"Error: worker {1 - index} of TF_CONFIG ({missing}) did not answer within 5 s: start the training "
        "there too, or fix TF_CONFIG\n"
    )
    assert not (tmp_path / "out").exists()
