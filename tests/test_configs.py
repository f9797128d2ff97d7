"""Config validation, JSON round trip and resume compatibility."""

import pytest

from cyclegan_tf import configs
from cyclegan_tf.configs import Config, ConfigError


def test_json_round_trip(tmp_path):
    config = Config(image_size=64, background=(1, 2, 3), preset="paper")
    configs.save_config(config, str(tmp_path))
    assert configs.load_config(str(tmp_path)) == config
    assert configs.load_config(str(tmp_path / "config.json")) == config


def test_unknown_key_is_an_error():
    with pytest.raises(ConfigError, match="bogus"):
        Config.from_dict({"bogus": 1})


def test_load_size_follows_image_size():
    assert Config(image_size=256).resolved_load_size == 286
    assert Config(image_size=128).resolved_load_size == 143
    assert Config(image_size=64, load_size=70).resolved_load_size == 70
    assert Config(image_size=64, jitter=False).resolved_load_size == 64


def test_default_output_dir_names_the_domains():
    assert Config(domain_a="horse", domain_b="zebra").resolved_output_dir.endswith("horse2zebra")


@pytest.mark.parametrize("changes, flag", [
    (dict(load_size=100, image_size=128), "--load_size"),
    (dict(image_size=96), "--image_size"),  # not a power of two for the UNet
    (dict(generator="resnet", image_size=30), "--image_size"),
    (dict(epochs=0), "--epochs"),
    (dict(batch_size=-1), "--batch_size"),
    (dict(pool_size=-1), "--pool_size"),
    (dict(gan_loss="wgan"), "--gan_loss"),
    (dict(preset="nope"), "--preset"),
    (dict(decay_epochs=20, epochs=10), "--decay_epochs"),
    (dict(beta1=1.5), "--beta1"),
])
def test_invalid_values_name_the_flag(changes, flag):
    with pytest.raises(ConfigError, match=flag):
        Config(**changes).validate()


def test_resume_with_other_architecture_is_a_clear_error():
    saved = Config(generator="resnet", n_blocks=9, image_size=64)
    Config(generator="resnet", n_blocks=9, image_size=128, lr=1.0).check_resumable_with(saved)
    with pytest.raises(ConfigError, match="--n_blocks: checkpoint has 9, now 6"):
        Config(generator="resnet", n_blocks=6, image_size=64).check_resumable_with(saved)
    with pytest.raises(ConfigError, match="--image_size"):  # The UNet's depth follows the size.
        Config(image_size=64).check_resumable_with(Config(image_size=128))
