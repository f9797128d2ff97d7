"""A quiet start for the command-line programs: TensorFlow's start-up log hidden by default.

Importing TensorFlow prints half a dozen lines (oneDNN notices, CUDA probing, absl's
pre-initialisation warning) straight to file descriptor 2, before any Python logging
setting can act, and its first use on a machine without a GPU logs a cuInit error. For
the programs, not for library users, TensorFlow is imported with descriptor 2 pointed at a
buffer, which is replayed only if the import fails, and TF_CPP_MIN_LOG_LEVEL defaults to
3. `--verbosity=N` on the command line or CYCLEGAN_TF_VERBOSE=1 shows everything.
Standard library only: this runs before anything else of the package.
"""

from __future__ import annotations

import os
import sys
import tempfile


def wants_startup_log(argv: list[str]) -> bool:
    """Whether the user asked to see TensorFlow's start-up log."""
    return bool(os.environ.get("CYCLEGAN_TF_VERBOSE")) or any(
        arg == "-v" or arg.startswith("--verbosity") for arg in argv[1:])


def import_tensorflow_quietly(argv: list[str]) -> None:
    """Imports TensorFlow with its start-up lines hidden, unless `wants_startup_log`."""
    if "tensorflow" in sys.modules or wants_startup_log(argv):
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as buffer:
        os.dup2(buffer.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        except BaseException:
            os.dup2(saved, 2)
            buffer.seek(0)
            sys.stderr.write(buffer.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
