"""Config validation, JSON round trip and resume compatibility."""

import re

import pytest

from cyclegan_tf.core import configs
from cyclegan_tf.core.configs import Config, ConfigError, load_config


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


def test_unknown_preset_names_the_flag_and_the_choices():
    from cyclegan_tf.core.presets import preset_config

    with pytest.raises(ConfigError, match="--preset='nope' is unknown; choose one of tom2jerry"):
        preset_config("nope")


@pytest.mark.fault("--lr nan, --lr -1, --lambda_cycle inf, --beta1 1.5", "refused at start, naming the flag")
@pytest.mark.parametrize("changes, flag", [
    (dict(lr=float("nan")), "--lr=nan"), (dict(lr=-1.0), "--lr"),
    (dict(lambda_cycle=float("inf")), "--lambda_cycle=inf"), (dict(beta1=1.5), "--beta1"),
])
def test_non_finite_and_out_of_range_numbers_are_refused(changes, flag):
    with pytest.raises(ConfigError, match=re.escape(flag)):
        Config(**changes).validate()


@pytest.mark.fault("corrupt or hand-edited config.json", "error naming the key and the file")
def test_a_damaged_config_file_names_the_file_and_the_key(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match=f"{re.escape(str(path))} is not valid JSON"):
        load_config(str(path))
    path.write_text('{"image_size": "big"}')
    with pytest.raises(ConfigError, match="key 'image_size' must be of type int"):
        load_config(str(path))
    path.write_text('{"colour": 3}')
    with pytest.raises(ConfigError, match="unknown key.*colour"):
        load_config(str(path))
    path.write_text('{"levels_transfer": true}')  # A setting that was renamed says so.
    with pytest.raises(ConfigError, match="levels_transfer is now color_transfer"):
        load_config(str(path))
    path.write_text('{"mixed_precision": "off"}')  # An older file: missing keys, old spelling.
    assert load_config(str(path)).mixed_precision == "float32"
