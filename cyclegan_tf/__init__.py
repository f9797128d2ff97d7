"""cyclegan_tf: unpaired image-to-image translation with CycleGAN in TensorFlow 2 and Keras 3.

The Python API, for notebooks and scripts (the command-line programs wrap the same calls):

    from cyclegan_tf import Translator, export_model, fit, presets

    config = presets.preset_config("tom2jerry", image_size=128, ngf=16, ndf=32, epochs=2)
    result = fit(config, callbacks=[lambda p: print(p.event, p.step, p.losses)])
    export_model(result.output_dir, "models/tom2jerry/1")
    cartoon = Translator("models/tom2jerry")(Image.open("photo.jpg"))

Names are imported on first use, so `import cyclegan_tf` stays cheap.
"""

import importlib
import os
import sys
from typing import Any

if sys.argv[:1] == ["-m"]:  # Started as `python -m cyclegan_tf.<command>`.
    from cyclegan_tf.cli.quiet import import_tensorflow_quietly

    import_tensorflow_quietly(sys.orig_argv if hasattr(sys, "orig_argv") else sys.argv)
else:
    # TensorFlow's C++ start-up chatter (oneDNN notices) hides a library user's output too.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from cyclegan_tf.core.version import __version__

_API = {
    "Config": ("cyclegan_tf.core.configs", "Config"),
    "ConfigError": ("cyclegan_tf.core.configs", "ConfigError"),
    "presets": ("cyclegan_tf.core.presets", None),
    "fit": ("cyclegan_tf.training.loop", "train"),
    "Progress": ("cyclegan_tf.training.loop", "Progress"),
    "TrainResult": ("cyclegan_tf.training.loop", "TrainResult"),
    "export_model": ("cyclegan_tf.inference.export", "export_generator"),
    "Translator": ("cyclegan_tf.inference.translate", "Translator"),
    "evaluate_run": ("cyclegan_tf.evaluation.evaluate", "evaluate_run"),
}
__all__ = sorted(_API) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'cyclegan_tf' has no attribute {name!r}")
    module, attribute = _API[name]
    value = importlib.import_module(module)
    return getattr(value, attribute) if attribute else value
