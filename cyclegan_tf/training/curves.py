"""Loss and metric curves of a run, read from its TensorBoard event files."""

from __future__ import annotations

import collections
import glob
import os

import numpy as np
import tensorflow as tf

from cyclegan_tf.core.run_folder import RunFolder

Series = dict[str, tuple[np.ndarray, np.ndarray]]


def read_scalars(log_dir: str) -> Series:
    """Every scalar in the event files under `log_dir`: tag -> (steps, values), by step."""
    points: dict[str, dict[int, float]] = collections.defaultdict(dict)
    for path in sorted(glob.glob(os.path.join(log_dir, "**", "events.out.tfevents.*"),
                              recursive=True)):
        for record in tf.data.TFRecordDataset(path):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                if value.HasField("simple_value"):
                    number = value.simple_value
                elif value.metadata.plugin_data.plugin_name == "scalars":
                    number = float(tf.make_ndarray(value.tensor))
                else:
                    continue
                points[value.tag][event.step] = number  # A resumed run's later value wins.
    return {tag: (np.array(sorted(p)), np.array([p[s] for s in sorted(p)]))
            for tag, p in points.items()}


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or len(values) < window:
        return values
    kernel = np.ones(window) / window
    return np.convolve(np.pad(values, (window - 1, 0), mode="edge"), kernel, mode="valid")


def plot_curves(scalars: Series, path: str, title: str = "") -> str:
    """Draws each tag in its own panel (raw and smoothed) into a PNG at `path`."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    tags = sorted(scalars)
    if not tags:
        raise ValueError("No scalars to plot.")
    cols = min(3, len(tags))
    rows = -(-len(tags) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3 * rows), squeeze=False)
    for ax, tag in zip(axes.flat, tags):
        steps, values = scalars[tag]
        ax.plot(steps, values, alpha=0.3, color="tab:blue")
        # Metric series have a point per evaluation: few, so mark each (a lone one shows).
        marker = "o" if len(values) <= 50 else None
        ax.plot(steps, _smooth(values, max(1, len(values) // 50)), color="tab:blue",
                marker=marker, markersize=3)
        ax.set_title(tag, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(tags):]:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_run(run_dir: str, output: str = "") -> str:
    """Plots the curves of the run in `run_dir` to `output` (default RUN/curves.png)."""
    run = RunFolder(run_dir)
    return plot_curves(read_scalars(run.logs), output or run.curves, title=run.name)
