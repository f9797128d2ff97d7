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
        self.images = tf.Variable(tf.zeros([max(size, 1), *image_shape]), trainable=False,
                                  name="images")
        self.count = tf.Variable(0, dtype=tf.int64, trainable=False, name="count")
        self.rng = tf.random.Generator.from_seed(seed)

    def query(self, images: tf.Tensor) -> tf.Tensor:
        """Images to show the discriminator for this batch of new fakes (batch size static)."""
        if self.size == 0:
            return images
        images = tf.cast(tf.stop_gradient(images), tf.float32)
        return tf.stack([self._query_one(images[i]) for i in range(images.shape[0])])

    def _query_one(self, image: tf.Tensor) -> tf.Tensor:
        def insert() -> tf.Tensor:
            self.images.scatter_nd_update([[self.count]], image[None])
            self.count.assign_add(1)
            return image

        def maybe_swap() -> tf.Tensor:
            swap = self.rng.uniform([]) > 0.5
            index = self.rng.uniform([], 0, self.size, dtype=tf.int64)

            def swap_out() -> tf.Tensor:
                stored = tf.identity(self.images[index])
                with tf.control_dependencies([stored]):
                    self.images.scatter_nd_update([[index]], image[None])
                return stored

            return tf.cond(swap, swap_out, lambda: image)

        return tf.cond(self.count < self.size, insert, maybe_swap)
