"""--profile_steps: parsing, and a profile written for exactly the chosen steps."""

import glob
import os

import pytest
import tensorflow as tf

from cyclegan_tf.core.configs import Config, ConfigError
from cyclegan_tf.training.profiling import StepProfiler


def test_profile_steps_parse_and_validate():
    assert Config().profile_range() is None
    assert Config(profile_steps="3,5").validate().profile_range() == (3, 5)
    for bad in ("5,3", "0,2", "4", "a,b"):
        with pytest.raises(ConfigError, match="--profile_steps"):
            Config(profile_steps=bad).validate()


def test_step_profiler_writes_one_profile_of_the_chosen_steps(tmp_path):
    profiler = StepProfiler((2, 3), str(tmp_path))
    step = tf.function(lambda x: tf.reduce_sum(x * x))
    active = []
    for number in range(1, 6):
        profiler.before_step(number)
        active.append(profiler.active)
        step(tf.ones([4]))
        profiler.after_step(number)
    profiler.close()
    assert active == [False, True, True, False, False]
    profiles = glob.glob(os.path.join(str(tmp_path), "plugins", "profile", "*", "*.xplane.pb"))
    assert len(profiles) == 1
