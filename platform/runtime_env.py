"""Process environment the libraries need, set by the project rather than the user.

TFRS needs Keras 2 (``TF_USE_LEGACY_KERAS=1``) and Spark must bind to loopback
(``SPARK_LOCAL_IP``). Both must be in ``os.environ`` before TensorFlow or PySpark is
first imported, so ``encore.platform`` imports this module first (and with it every part
that depends on the platform; ``encore.feature_store`` loads neither library).
Values already set by the caller win.
"""

from __future__ import annotations

import os
import sys

DEFAULTS = {
    "TF_USE_LEGACY_KERAS": "1",
    "SPARK_LOCAL_IP": "127.0.0.1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "PYSPARK_PYTHON": sys.executable,
    "PYSPARK_DRIVER_PYTHON": sys.executable,
    "PYTHONHASHSEED": "0",
}

for _name, _value in DEFAULTS.items():
    os.environ.setdefault(_name, _value)
