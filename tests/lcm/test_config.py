"""String options of the LCM config are typed: a typo fails at load time, naming the field,
the bad value and the allowed values; every bundled config still loads."""

import json
from typing import Literal, get_args, get_origin, get_type_hints

import pytest

from engine.codec.demo import load_config
from engine.lcm import (
    DiffusionConfig,
    GenerationConfig,
    LCMCheckpointError,
    LCMConfig,
    QuantConfig,
    SamplerConfig,
    load_lcm,
)
from engine.paths import ASSETS
from tests.lcm.helpers import toy_model

SECTIONS = {
    "": LCMConfig,
    "diffusion": DiffusionConfig,
    "sampler": SamplerConfig,
    "generation": GenerationConfig,
    "quant": QuantConfig,
}
OPTIONS = [
    (section, name, get_args(hint))
    for section, cls in SECTIONS.items()
    for name, hint in get_type_hints(cls).items()
    if get_origin(hint) is Literal
]


def test_every_string_option_is_typed():
    assert {name for _, name, _ in OPTIONS} == {
        "model_type", "normalizer", "schedule", "prediction", "timestep_sampling",
        "loss_weighting", "spacing", "guidance_space",
    }  # fmt: skip


def _config(section: str, name: str, value: str) -> dict:
    return {section: {name: value}} if section else {name: value}


@pytest.mark.parametrize(("section", "name", "allowed"), OPTIONS)
def test_a_typo_names_the_field_the_value_and_the_choices(section, name, allowed):
    for value in allowed:
        assert LCMConfig.from_dict(_config(section, name, value))
    typo = allowed[0] + "s"
    with pytest.raises(ValueError) as error:
        LCMConfig.from_dict(_config(section, name, typo))
    prefix = f"{section}: " if section else ""
    choices = ", ".join(map(repr, allowed))
    assert str(error.value) == f"{prefix}{name} must be one of {choices}; got {typo!r}"


def test_a_checkpoint_with_a_typo_does_not_load(tmp_path):
    path = toy_model("two_tower").save_pretrained(tmp_path / "typo")
    config = json.loads((path / "config.json").read_text())
    config["diffusion"]["schedule"] = "cosin"
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(LCMCheckpointError, match="diffusion: schedule must be one of 'cosine'"):
        load_lcm(path)


@pytest.mark.parametrize(
    "path", sorted(ASSETS.glob("demo/*/config.json")), ids=lambda path: path.parent.name
)
def test_every_bundled_config_loads(path):
    data = json.loads(path.read_text())
    if "codec_type" in data:
        assert load_config(path.parent).codec_type == "demo"
    else:
        assert data.pop("format") == "lcm-writer/lcm/1"
        config = LCMConfig.from_dict(data)
        assert LCMConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize("model_type", ["quant_lcm_d", "quant_lcm_c"])
def test_a_quantized_lcm_refuses_a_whitened_normaliser(model_type):
    assert LCMConfig.from_dict({"model_type": model_type, "normalizer": "robust"})
    with pytest.raises(ValueError, match=f"a {model_type} model needs a per-dimension normaliser"):
        LCMConfig.from_dict({"model_type": model_type, "normalizer": "whitened"})
