"""The CycleGAN itself: four networks, four optimizers, one training step, one checkpoint.

Naming follows the TensorFlow tutorial: generator G translates A to B and F translates B
to A; discriminator X judges domain A images and Y judges domain B images.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from cyclegan_tf.core import losses, precision
from cyclegan_tf.core.checkpoints import AVERAGES
from cyclegan_tf.core.configs import Config
from cyclegan_tf.data.color_transfer import ColourMap, ColourStatistics, transfer_map
from cyclegan_tf.nets.models import COLOR_TRANSFER_LAYER, build_discriminator, build_generator
from cyclegan_tf.training import distribute
from cyclegan_tf.training.augment import augment
from cyclegan_tf.training.fused_adam import FusedAdam
from cyclegan_tf.training.image_pool import ImagePool
from cyclegan_tf.training.schedules import LearningRate
from cyclegan_tf.training.weight_average import WeightAverage

NETWORKS = ("generator_g", "generator_f", "discriminator_x", "discriminator_y")
# --color_loss: what the colour loss compares on the pooled images.
COLOR_DISTANCES = {"lowpass": losses.l1, "hue": losses.hue_shift, "luma": losses.luminance_l1}


class CycleGAN(tf.Module):
    """All training state of a run, and `train_step`, the one compiled training step.

    `steps_per_epoch` fixes the learning-rate schedule; the step and epoch counters, the
    image pools and the optimizers' slots live in `checkpoint`. `jit_compile=True` compiles
    the step with XLA (on a CPU usually slower; see scripts/benchmark.py).

    All state is created in the scope of `strategy` (by default made from `config.strategy`;
    see distribute.py). Under a multi-device strategy `train_step` takes the per-replica
    batches of a `distribute.distribute_dataset`, each replica keeps its own image pools (a
    checkpoint holds the first replica's), and the returned losses are means over the
    global batch.
    """

    def __init__(self, config: Config, steps_per_epoch: int = 1, jit_compile: bool = False,
                 strategy: tf.distribute.Strategy | None = None):
        super().__init__(name="cyclegan")
        self.config = config
        self.policy = precision.keras_policy(config.mixed_precision)
        self.strategy = strategy or distribute.make_strategy(config.strategy)
        distribute.check_global_batch(config, self.strategy)
        # The counters change only outside the replicas, so they stay plain variables.
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        # Steps already done inside `epoch`, for resuming from a mid-epoch checkpoint.
        self.epoch_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch_step")
        # Batch norm's statistics would mix independent passes run as one batch.
        self.batch_generator_passes = (config.generator_spec.batches_passes
                                       and config.norm != "batch")
        with self.strategy.scope():
            self._create_state(steps_per_epoch)
        if config.strategy == "default":
            spec = tf.TensorSpec([config.batch_size, config.image_size, config.image_size, 3],
                                 tf.float32)
            signature = [spec, spec]
        else:
            signature = None  # Per-replica values of a distributed dataset.
        self.train_step = tf.function(self._train_step, input_signature=signature,
                                      jit_compile=jit_compile)

    def _create_state(self, steps_per_epoch: int) -> None:
        config = self.config
        keras.utils.set_random_seed(config.seed)
        with precision.policy_scope(self.policy):
            self.generator_g = build_generator(config, "generator_g")
            self.generator_f = build_generator(config, "generator_f")
            self.discriminator_x = build_discriminator(config, "discriminator_x")
            self.discriminator_y = build_discriminator(config, "discriminator_y")
            self.averages = {
                name: WeightAverage(self.network(name), build_generator(config, average),
                                    config.ema_decay)
                for name, average in AVERAGES.items()} if config.ema_decay else {}
        # DiffAugment's random numbers, checkpointed so that a resumed run draws the same.
        self.augment_rng = tf.random.Generator.from_seed(config.seed * 2 + 3)
        # G's and F's --lambda_hue; --scale_hue_by_chroma sets them with the colour transfer,
        # and then they are checkpointed, as the maps are.
        self.hue_weights = tf.Variable([config.lambda_hue] * 2, dtype=tf.float32,
                                       trainable=False, name="hue_weights")
        self.learning_rate = LearningRate(config, steps_per_epoch)
        self.optimizers = {name: self._make_optimizer() for name in NETWORKS}
        for name, optimizer in self.optimizers.items():
            # Built up front so the first tf.function call traces once, not twice.
            optimizer.build(self.network(name).trainable_variables)

        shape = (config.image_size, config.image_size, 3)
        self.pool_a = ImagePool(config.pool_size, shape, seed=config.seed * 2 + 1, name="pool_a")
        self.pool_b = ImagePool(config.pool_size, shape, seed=config.seed * 2 + 2, name="pool_b")

    def network(self, name: str) -> keras.Model:
        """One of `NETWORKS` by name."""
        return getattr(self, name)

    def _make_optimizer(self) -> keras.optimizers.Optimizer:
        config = self.config
        # Keras Adam's maths and slot variables, each update one fused kernel (fused_adam.py).
        optimizer = FusedAdam(learning_rate=config.lr, beta_1=config.beta1, beta_2=config.beta2)
        if precision.uses_loss_scaling(self.policy):
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        return optimizer

    def checkpoint(self) -> tf.train.Checkpoint:
        """A checkpoint of everything needed to continue training exactly."""
        # Keras keeps dropout's random state in seed-generator variables that
        # tf.train.Checkpoint does not track; saving them makes a resumed run draw the same
        # dropout masks as an uninterrupted one.
        random_states = {
            f"{name}_random_state": [v.value for v in self.network(name).non_trainable_variables
                                     if "seed_generator_state" in v.path]
            for name in NETWORKS
        }
        return tf.train.Checkpoint(
            **{name: self.network(name) for name in NETWORKS},
            **{key: states for key, states in random_states.items() if states},
            **{f"{name}_optimizer": opt for name, opt in self.optimizers.items()},
            **{AVERAGES[name]: average.average for name, average in self.averages.items()},
            step=self.step, epoch=self.epoch, epoch_step=self.epoch_step,
            pool_a=self.pool_a, pool_b=self.pool_b,
            **({"augment_rng": self.augment_rng} if self.config.augmentations else {}),
            **({"hue_weights": self.hue_weights} if self.config.scale_hue_by_chroma else {}),
        )

    def inference_generator(self, name: str) -> keras.Model:
        """The generator `name` as samples, evaluation and export use it: its weight average
        with --ema_decay, else the trained network itself."""
        average = self.averages.get(name)
        return average.average if average else self.network(name)

    def translate(self, images: tf.Tensor, direction: str = "a2b") -> tf.Tensor:
        """Translates a batch in inference mode: 'a2b' uses G, 'b2a' uses F (their weight
        averages with --ema_decay)."""
        generator = self.inference_generator("generator_g" if direction == "a2b"
                                             else "generator_f")
        return tf.cast(generator(images, training=False), tf.float32)

    def _train_step(self, real_a: tf.Tensor, real_b: tf.Tensor) -> dict[str, tf.Tensor]:
        learning_rate = self.learning_rate(self.step)
        for optimizer in self.optimizers.values():
            optimizer.learning_rate.assign(learning_rate)
        per_replica = self.strategy.run(self._replica_step, args=(real_a, real_b))
        values = {name: self.strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None)
                  for name, value in per_replica.items()}
        for average in self.averages.values():
            average.update(self.step)
        self.step.assign_add(1)
        self.epoch_step.assign_add(1)
        return {**values, "lr": learning_rate}

    def _generate(self, generator: keras.Model, *images: tf.Tensor) -> list[tf.Tensor]:
        """`generator` in training mode on each of `images`, batches of one size."""
        if not self.batch_generator_passes or len(images) == 1:
            return [generator(x, training=True) for x in images]
        outputs = generator(tf.concat(images, axis=0), training=True)
        return tf.split(outputs, len(images), axis=0)

    def _judge(self, discriminator: keras.Model, images: tf.Tensor) -> tf.Tensor:
        """`discriminator` in training mode on `images`, augmented with --diffaugment."""
        if self.config.augmentations:
            images = augment(images, self.config.augmentations, self.augment_rng)
        return discriminator(images, training=True)

    def _start(self, generator: keras.Model, images: tf.Tensor) -> tf.Tensor:
        """What `generator` starts from on `images`: the images, or with --color_transfer
        their colour map (the reference of the colour loss)."""
        if self.config.color_transfer == "none":
            return images
        return generator.get_layer(COLOR_TRANSFER_LAYER)(images)

    def set_color_transfer(self, colours_a: ColourStatistics,
                           colours_b: ColourStatistics) -> dict[str, ColourMap]:
        """Sets the --color_transfer maps from the domains' colour statistics
        (`cyclegan_tf.data.color_transfer`): G's takes A's colours to B's, F's the reverse.
        Also sets the weight averages', so samples and exports use the same maps, and with
        --scale_hue_by_chroma each generator's hue weight. Returns the maps by generator
        name."""
        mode = self.config.color_transfer
        maps = {"generator_g": transfer_map(colours_a, colours_b, mode),
                "generator_f": transfer_map(colours_b, colours_a, mode)}
        for name, colour_map in maps.items():
            for generator in (self.network(name), self.inference_generator(name)):
                layer = generator.get_layer(COLOR_TRANSFER_LAYER)
                layer.matrix.assign(colour_map.matrix.astype(np.float32))
                layer.offset.assign(colour_map.offset.astype(np.float32))
        if self.config.scale_hue_by_chroma:
            self.hue_weights.assign([self.config.lambda_hue * colour_map.chroma_kept
                                     for colour_map in maps.values()])
        return maps

    def _color_loss(self, source: tf.Tensor, translated: tf.Tensor,
                    hue_weight: tf.Tensor | float) -> tf.Tensor:
        """--lambda_color times the --color_loss distance of the two images' 1/16-size average
        pools, plus `hue_weight` (the generator's --lambda_hue) times their hue distance."""
        config = self.config
        source = losses.block_average(source, config.image_size)
        translated = losses.block_average(translated, config.image_size)
        loss = tf.constant(0.0)
        if config.lambda_color:
            loss += config.lambda_color * COLOR_DISTANCES[config.color_loss](source, translated)
        if config.lambda_hue:
            loss += hue_weight * losses.hue_shift(source, translated)
        return loss

    def _replica_step(self, real_a: tf.Tensor, real_b: tf.Tensor) -> dict[str, tf.Tensor]:
        """Losses and one update of all four networks on this replica's share of the batch."""
        config = self.config
        g, f = self.generator_g, self.generator_f
        d_x, d_y = self.discriminator_x, self.discriminator_y
        use_identity = config.lambda_identity > 0

        with tf.GradientTape(persistent=True) as tape:
            # Ordered so that each generator's independent passes can share a call (the
            # identity passes F(a) and G(b) with the translations).
            if use_identity:
                fake_a, same_a = self._generate(f, real_b, real_a)
                fake_b, cycled_b, same_b = self._generate(g, real_a, fake_a, real_b)
            else:
                (fake_a,) = self._generate(f, real_b)
                fake_b, cycled_b = self._generate(g, real_a, fake_a)
            (cycled_a,) = self._generate(f, fake_b)

            d_real_a = self._judge(d_x, real_a)
            d_real_b = self._judge(d_y, real_b)
            d_fake_a = self._judge(d_x, fake_a)
            d_fake_b = self._judge(d_y, fake_b)
            if config.pool_size:
                # The discriminators learn from the pool's history of fakes; the generators
                # are judged on their newest ones.
                d_pool_a = self._judge(d_x, self.pool_a.query(fake_a))
                d_pool_b = self._judge(d_y, self.pool_b.query(fake_b))
            else:
                d_pool_a, d_pool_b = d_fake_a, d_fake_b

            cycle = config.lambda_cycle * (losses.l1(real_a, cycled_a) + losses.l1(real_b, cycled_b))
            if use_identity:
                identity_g = config.lambda_identity * losses.l1(real_b, same_b)
                identity_f = config.lambda_identity * losses.l1(real_a, same_a)
            else:
                identity_g = identity_f = tf.constant(0.0)
            if config.uses_color_loss:
                hue_g, hue_f = tf.unstack(self.hue_weights)
                color_g = self._color_loss(self._start(g, real_a), fake_b, hue_g)
                color_f = self._color_loss(self._start(f, real_b), fake_a, hue_f)
            else:
                color_g = color_f = tf.constant(0.0)
            adv_g = losses.generator_loss(d_fake_b, config.gan_loss)
            adv_f = losses.generator_loss(d_fake_a, config.gan_loss)
            total = {
                "generator_g": adv_g + cycle + identity_g + color_g,
                "generator_f": adv_f + cycle + identity_f + color_f,
                "discriminator_x": losses.discriminator_loss(d_real_a, d_pool_a, config.gan_loss),
                "discriminator_y": losses.discriminator_loss(d_real_b, d_pool_b, config.gan_loss),
            }
            # The optimizers sum the replicas' gradients: each replica's mean is divided by
            # their number, so the sum is the gradient of the mean over the global batch.
            replicas = self.strategy.num_replicas_in_sync
            scaled = {name: loss / replicas if replicas > 1 else loss
                      for name, loss in total.items()}
            if precision.uses_loss_scaling(self.policy):
                scaled = {name: self.optimizers[name].scale_loss(loss)
                          for name, loss in scaled.items()}

        for name in NETWORKS:
            variables = self.network(name).trainable_variables
            gradients = tape.gradient(scaled[name], variables)
            self.optimizers[name].apply_gradients(zip(gradients, variables))
        del tape
        return {
            "gen_g": total["generator_g"],
            "gen_f": total["generator_f"],
            "disc_x": total["discriminator_x"],
            "disc_y": total["discriminator_y"],
            "adv_g": adv_g,
            "adv_f": adv_f,
            "cycle": cycle,
            "identity": identity_g + identity_f,
            **({"color": color_g + color_f} if config.uses_color_loss else {}),
        }
