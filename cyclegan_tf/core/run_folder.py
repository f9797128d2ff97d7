"""The run folder: every path a training run writes, its lock, and its skip list.

    RUN/config.json        the configuration that built the model
    RUN/checkpoints/       tf.train.CheckpointManager checkpoints (see `checkpoints`)
    RUN/best/              the best checkpoint and best.json (--keep_best)
    RUN/logs/              TensorBoard event files
    RUN/samples/           sample grids, epoch_NNNN.png
    RUN/eval/              metrics.json of `python -m cyclegan_tf.evaluate`
    RUN/curves.png         loss curves, drawn when training ends
    RUN/scan_cache.json    what the image scan learnt, to skip re-checking unchanged files
    RUN/skipped_files.jsonl  images left out, one JSON object {"path", "reason"} per line
    RUN/.lock              held by the trainer for the whole run (PID and host inside)

No other module spells these names.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator, Mapping

from cyclegan_tf.core.files import atomic_write_text

CONFIG_FILENAME = "config.json"


class RunFolderBusy(RuntimeError):
    """Another process holds the run folder's lock."""


@dataclasses.dataclass(frozen=True)
class RunFolder:
    """The paths of the run folder `root`; nothing is created until something is written."""

    root: str

    @property
    def config(self) -> str:
        """The run's configuration (`config.json`)."""
        return os.path.join(self.root, CONFIG_FILENAME)

    @property
    def checkpoints(self) -> str:
        """The folder of the latest checkpoints."""
        return os.path.join(self.root, "checkpoints")

    @property
    def best(self) -> str:
        """The folder of the best checkpoint (--keep_best) and its best.json."""
        return os.path.join(self.root, "best")

    @property
    def logs(self) -> str:
        """TensorBoard's log folder."""
        return os.path.join(self.root, "logs")

    @property
    def samples(self) -> str:
        """The folder of sample grids."""
        return os.path.join(self.root, "samples")

    def sample_grid(self, epoch: int) -> str:
        """The sample grid written after `epoch` (1-based) epochs."""
        return os.path.join(self.samples, f"epoch_{epoch:04d}.png")

    @property
    def eval(self) -> str:
        """Where `python -m cyclegan_tf.evaluate` writes metrics.json by default."""
        return os.path.join(self.root, "eval")

    @property
    def curves(self) -> str:
        """The loss-curve picture drawn at the end of training."""
        return os.path.join(self.root, "curves.png")

    @property
    def scan_cache(self) -> str:
        """The image scan's cache."""
        return os.path.join(self.root, "scan_cache.json")

    @property
    def skipped_files(self) -> str:
        """The list of images left out of training, and why."""
        return os.path.join(self.root, "skipped_files.jsonl")

    @property
    def lock_file(self) -> str:
        """The file the trainer locks for the whole run."""
        return os.path.join(self.root, ".lock")

    @property
    def name(self) -> str:
        """The run's name: its folder's name."""
        return os.path.basename(os.path.normpath(self.root))

    def is_run(self) -> bool:
        """Whether `root` holds a run (its config.json)."""
        return os.path.isfile(self.config)

    def write_skipped(self, skipped: Mapping[str, str]) -> str:
        """Writes the skip list (an empty file when nothing was skipped); returns its path.

        JSON lines survive any file name: a newline in it is escaped, and bytes that are
        not UTF-8 are kept as the lone surrogates Python reads them as (`os.fsencode`
        turns them back into the name's bytes).
        """
        return atomic_write_text(self.skipped_files, "".join(
            json.dumps({"path": path, "reason": reason}) + "\n"
            for path, reason in skipped.items()))

    def read_skipped(self) -> dict[str, str]:
        """The skip list `write_skipped` wrote, by path (empty when there is none)."""
        if not os.path.exists(self.skipped_files):
            return {}
        with open(self.skipped_files, encoding="utf-8") as f:
            entries = [json.loads(line) for line in f if line.strip()]
        return {entry["path"]: entry["reason"] for entry in entries}

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Holds the run's exclusive lock inside the block.

        The lock is an `flock` on RUN/.lock: the operating system releases it when the
        process ends in any way (a kill -9 included), so it never goes stale. A second
        trainer on the same folder gets `RunFolderBusy` naming the holder's PID and host.
        """
        os.makedirs(self.root, exist_ok=True)
        fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                raise RunFolderBusy(
                    f"Run folder {self.root} is in use by {_holder(fd)}; wait for that run to "
                    "finish (or stop it), or train into another --output_dir.") from None
            holder = {"pid": os.getpid(), "host": socket.gethostname(),
                      "since": time.strftime("%Y-%m-%d %H:%M:%S")}
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(holder).encode(), 0)
            yield
        finally:
            os.close(fd)  # Releases the lock.


def _holder(fd: int) -> str:
    """Who holds the lock, as its holder wrote it into the lock file."""
    try:
        holder = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except ValueError:
        holder = {}
    if not holder:
        return "another process"
    return (f"process {holder.get('pid', '?')} on host {holder.get('host', '?')} "
            f"(since {holder.get('since', '?')})")
