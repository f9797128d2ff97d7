"""The image pool: a history of generated images shown to the discriminators.

Shrivastava et al. (2017), as used by the CycleGAN paper: until the pool is full every new
fake is stored and passed through; after that, each new fake has a 0.5 chance of being
swapped for a random stored one. The buffer, its fill count and its random state are
variables, so the pool is saved in and restored from checkpoints.
"""

from __future__ import annotations

import tensorflow as tf


class ImagePool(tf.Module):
    """A pool of up to `size` images of shape `image_shape`; `size=0` passes images through."""

    def __init__(self, size: int, image_shape: tuple[int, int, int], seed: int = 0,
                 name: str | None = None):
        super().__init__(name=name)
        self.size = size
        # Under a tf.distribute strategy each replica keeps its own pool (sync on read);
        # checkpoints save the first replica's. Without one these are plain variables.
        per_replica = dict(trainable=False, synchronization=tf.VariableSynchronization.ON_READ,
                           aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        self.images = tf.Variable(tf.zeros([max(size, 1), *image_shape]), name="images",
                                  **per_replica)
        self.count = tf.Variable(0, dtype=tf.int64, name="count", **per_replica)
        self.rng = tf.random.Generator.from_seed(seed)

    def query(self, images: tf.Tensor) -> tf.Tensor:
        """Images to show the discriminator for this batch of new fakes (batch size static)."""
        if self.size == 0:
            return images
        images = tf.cast(tf.stop_gradient(images), tf.float32)
        return tf.stack([self._query_one(images[i]) for i in range(images.shape[0])])

    def _store(self, index: tf.Tensor, image: tf.Tensor) -> None:
        # Through the handle: this replica's own buffer under a strategy (sync-on-read
        # variables have no scatter methods).
        tf.raw_ops.ResourceScatterNdUpdate(ref=self.images.handle, indices=[[index]],
                                           updates=image[None])

    def _query_one(self, image: tf.Tensor) -> tf.Tensor:
        def insert() -> tf.Tensor:
            self._store(self.count, image)
            self.count.assign_add(1)
            return image

        def maybe_swap() -> tf.Tensor:
            swap = self.rng.uniform([]) > 0.5
            index = self.rng.uniform([], 0, self.size, dtype=tf.int64)

            def swap_out() -> tf.Tensor:
                stored = tf.identity(self.images[index])
                with tf.control_dependencies([stored]):
                    self._store(index, image)
                return stored

            return tf.cond(swap, swap_out, lambda: image)

        return tf.cond(self.count < self.size, insert, maybe_swap)
