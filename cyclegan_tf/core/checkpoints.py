"""Checkpoints: listing, saving, restoring with fallback, the best one, and picking one to export.

A kill or power loss during a save can leave the newest checkpoint incomplete, and
TensorFlow's `checkpoint` state file empty or pointing at a checkpoint that was never
finished. So checkpoints are found by their files, newest first, and a checkpoint that
does not restore is passed over for the one before it, here and nowhere else.
"""

from __future__ import annotations

import contextlib
import glob
import json
import math
import os
import re
import shutil
from collections.abc import Callable, Sequence
from typing import Any, TextIO

import tensorflow as tf

from cyclegan_tf.core.files import atomic_write_json

CHECKPOINT_NAME = "ckpt"
BEST_FILE = "best.json"


# The checkpoint names of the generators' weight averages (with --ema_decay), by network.
AVERAGES = {"generator_g": "generator_g_ema", "generator_f": "generator_f_ema"}


class CheckpointError(RuntimeError):
    """A folder holds checkpoints, but none of them can be restored (or none is there)."""


def saved_checkpoints(directory: str) -> list[str]:
    """The checkpoint prefixes in `directory`, newest (highest number) first."""
    numbered = []
    for index in glob.glob(os.path.join(glob.escape(directory), f"{CHECKPOINT_NAME}-*.index")):
        match = re.fullmatch(rf"(.*{CHECKPOINT_NAME}-(\d+))\.index", index)
        if match:
            numbered.append((int(match.group(2)), match.group(1)))
    return [prefix for _, prefix in sorted(numbered, reverse=True)]


def tidy_folder(directory: str, out: TextIO) -> None:
    """Clears what interrupted saves left in `directory` before it is used.

    Removes `ckpt-N_temp/` folders of saves that never finished, and renames a `checkpoint`
    state file that TensorFlow cannot parse (a torn write) to `checkpoint.unreadable`.
    """
    for leftover in glob.glob(os.path.join(glob.escape(directory), f"{CHECKPOINT_NAME}-*_temp")):
        shutil.rmtree(leftover, ignore_errors=True)
        print(f"Removed {leftover}, left by a save that did not finish.", file=out)
    state = os.path.join(directory, "checkpoint")
    try:
        tf.train.get_checkpoint_state(directory)
    except ValueError:
        os.replace(state, state + ".unreadable")
        print(f"{state} was unreadable (moved to {state}.unreadable); looking for "
              "checkpoints by file name.", file=out)


def manager(checkpoint: tf.train.Checkpoint, directory: str,
            keep: int) -> tf.train.CheckpointManager:
    """The `tf.train.CheckpointManager` that saves `checkpoint` into `directory`."""
    return tf.train.CheckpointManager(checkpoint, directory, max_to_keep=keep,
                                      checkpoint_name=CHECKPOINT_NAME)


def _prefix_bytes(prefix: str) -> int:
    """The size of a saved checkpoint's files (index and data), in bytes."""
    return sum(os.path.getsize(path) for path in glob.glob(glob.escape(prefix) + ".*"))


def save(manager: tf.train.CheckpointManager, step: int, estimated_bytes: int) -> str:
    """`manager.save(checkpoint_number=step)`; a failed write is a clear `CheckpointError`.

    When the disk is full (or the write fails otherwise), the half-written files are
    removed and the error says how much space a checkpoint needs (the size of the
    newest one, or `estimated_bytes` before there is one) and which checkpoint a restart
    resumes from; that one is untouched, as TensorFlow updates the state file only after a
    complete write.
    """
    directory = manager.directory
    try:
        return manager.save(checkpoint_number=step)
    except (OSError, tf.errors.OpError) as error:
        prefix = os.path.join(directory, f"{CHECKPOINT_NAME}-{step}")
        shutil.rmtree(prefix + "_temp", ignore_errors=True)
        for partial in glob.glob(glob.escape(prefix) + ".*"):
            with contextlib.suppress(OSError):
                os.remove(partial)
        latest = manager.latest_checkpoint
        needed = _prefix_bytes(latest) if latest else estimated_bytes
        free = shutil.disk_usage(directory).free
        message = getattr(error, "message", None) or error.strerror or str(error)
        raise CheckpointError(
            f"Saving checkpoint {prefix} failed: {message.splitlines()[0]}. A checkpoint "
            f"needs about {needed / 2**20:.0f} MB and {directory} has {free / 2**20:.0f} MB "
            f"free. " + (f"Nothing was lost: {latest} is intact and the run resumes from it; "
                         if latest else "No checkpoint was saved yet; ")
            + "free some space (or lower --keep_checkpoints) and run the same command again."
        ) from None


def _reason(error: Exception) -> str:
    return f"{type(error).__name__}: {(str(error).splitlines() or [''])[0][:200]}"


def restore_newest(candidates: Sequence[str], restore: Callable[[str], Any],
                   out: TextIO) -> str | None:
    """Calls `restore(path)` on `candidates` in order until one succeeds; returns its path.

    A candidate that raises is reported on `out` and passed over. Returns None when there
    are no candidates; raises `CheckpointError` when none restores.
    """
    for path in candidates:
        try:
            restore(path)
        except Exception as error:  # noqa: BLE001 - damaged files raise many error types.
            print(f"Checkpoint {path} cannot be restored, it is incomplete or damaged "
                  f"({_reason(error)}); trying the one before it.", file=out)
            continue
        return path
    if candidates:
        folder = os.path.dirname(candidates[0])
        raise CheckpointError(
            f"None of the {len(candidates)} checkpoints in {folder} can be restored (see "
            "above). Move that folder away to start this run over, or use a new --output_dir.")
    return None


def restore_training(checkpoint: tf.train.Checkpoint, directory: str,
                     out: TextIO) -> str | None:
    """Restores everything in `checkpoint` from the newest good checkpoint in `directory`."""
    return restore_newest(
        saved_checkpoints(directory),
        lambda path: checkpoint.restore(path).assert_existing_objects_matched(), out)


def candidates_for_export(checkpoints_dir: str, checkpoint: str = "") -> list[str]:
    """The checkpoints to try, in order, for `--checkpoint` (a prefix or a folder) or a run.

    An explicit prefix is the only candidate; a folder (RUN/checkpoints, RUN/best) gives
    its checkpoints newest first, so a damaged newest one falls back to an older one.
    """
    if checkpoint and not os.path.isdir(checkpoint):
        if not tf.io.gfile.exists(checkpoint + ".index"):
            found = os.listdir(os.path.dirname(checkpoint) or ".") if os.path.isdir(
                os.path.dirname(checkpoint) or ".") else []
            names = sorted({n.split(".")[0] for n in found if n.startswith(CHECKPOINT_NAME)})
            raise CheckpointError(
                f"--checkpoint={checkpoint!r} is not a checkpoint (no {checkpoint}.index); "
                "pass a prefix such as RUN/checkpoints/ckpt-100"
                + (f" (there: {', '.join(names[-5:])})" if names else "") + ".")
        return [checkpoint]
    folder = checkpoint or checkpoints_dir
    found = saved_checkpoints(folder)
    if not found:
        raise CheckpointError(
            f"No checkpoint in {folder}" + ("" if checkpoint else "; train the run first")
            + ".")
    return found


class BestCheckpoint:
    """The checkpoint with the best value of one metric, in its own folder beside the latest.

    `best.json` (step, epoch, metric, value) sits beside the checkpoint, so the best value
    survives a restart.
    """

    def __init__(self, checkpoint: tf.train.Checkpoint, directory: str, metric: str,
                 higher_is_better: bool):
        self.metric = metric
        self.higher_is_better = higher_is_better
        self.path = os.path.join(directory, BEST_FILE)
        self.manager = manager(checkpoint, directory, keep=1)
        self.record = self._read()

    def _read(self) -> dict[str, Any] | None:
        try:
            with open(self.path) as f:
                record = json.load(f)
        except FileNotFoundError:
            return None
        except ValueError:
            return None  # A torn record: the next evaluation writes a new one.
        # A record of another metric (the user changed --keep_best) does not compare.
        return record if record.get("metric") == self.metric else None

    def is_better(self, value: float) -> bool:
        """Whether `value` beats the best so far (any finite value beats none; NaN never wins)."""
        if not math.isfinite(value):
            return False
        if self.record is None:
            return True
        best = self.record["value"]
        return value > best if self.higher_is_better else value < best

    def update(self, value: float, step: int, epoch: int) -> str:
        """Saves the checkpoint and `best.json` if `value` is the best; returns the checkpoint
        path, or "" when it is not."""
        if not self.is_better(value):
            return ""
        path = self.manager.save(checkpoint_number=step)
        self.record = {"step": step, "epoch": epoch, "metric": self.metric, "value": value,
                       "checkpoint": os.path.basename(path)}
        atomic_write_json(self.path, self.record)
        return path
