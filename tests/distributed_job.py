"""`autocomplete train` in this process on N logical CPU devices, for tests/test_distribute.py (not collected:
no test_ prefix). A CPU is split before TensorFlow starts, as a machine with N devices would present them.

python tests/distributed_job.py N TRAIN-ARGUMENTS...
"""

from __future__ import annotations

import sys


def main() -> None:
    devices, arguments = int(sys.argv[1]), sys.argv[2:]
    from autocomplete.model import import_keras

    import_keras()  # TensorFlow imported as training imports it, its start-up chatter kept off stderr
    import tensorflow as tf

    (cpu,) = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * devices)
    from autocomplete.cli import app

    app(["train", *arguments], prog_name="autocomplete")


if __name__ == "__main__":
    main()
