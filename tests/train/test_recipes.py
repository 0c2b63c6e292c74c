"""Recipes load and validate; the learning-rate schedule has the promised shape."""

import math

import pytest
import torch

from engine.lcm import LCMConfig, preset
from engine.paths import RECIPES
from engine.train.config import RecipeError, load_recipe, parse_overrides
from engine.train.schedule import warmup_cosine
from engine.train.trainer import _optimizer

REQUIRED = {"data": "shards", "out_dir": "out"}


@pytest.mark.parametrize("name", ["toy.yaml", "demo.yaml", "paper_1.6b.yaml"])
def test_every_recipe_is_valid_and_names_a_real_preset(name):
    cfg = load_recipe(RECIPES / name, REQUIRED)
    assert preset(cfg.preset).model_type == "two_tower"
    assert cfg.betas == (0.9, 0.95) and cfg.weight_decay == 0.1


def test_paper_recipe_has_the_reference_settings():
    """recipes/train/pretrain/two_tower.yaml of facebookresearch/large_concept_model; its
    loss sums over the 1024 dimensions where ours averages, hence the / 1024."""
    cfg = load_recipe(RECIPES / "paper_1.6b.yaml", REQUIRED)
    assert (cfg.lr, cfg.warmup_steps, cfg.max_steps, cfg.grad_accum) == (4e-4, 10_000, 250_000, 1)
    assert cfg.lr * cfg.min_lr_ratio == pytest.approx(1e-5)
    assert cfg.grad_clip * 1024 == pytest.approx(25.0)
    assert cfg.adam_eps * 1024 == pytest.approx(1e-5)
    assert (cfg.batch_concepts, cfg.max_len) == (7168, 128)
    model = preset(cfg.preset)
    assert (model.dropout, model.attention_dropout, model.bias) == (0.1, 0.0, True)


def test_adam_eps_reaches_the_optimizer():
    cfg = load_recipe(RECIPES / "toy.yaml", {**REQUIRED, "adam_eps": 1e-6})
    assert _optimizer(torch.nn.Linear(2, 2), cfg).defaults["eps"] == 1e-6
    assert load_recipe(RECIPES / "toy.yaml", REQUIRED).adam_eps == 1e-8


def test_overrides_are_typed_and_reach_into_the_model():
    overrides = parse_overrides(["lr=1e-3", "model.d_model=64", "mixed_precision=bf16"])
    cfg = load_recipe(RECIPES / "toy.yaml", {**REQUIRED, **overrides})
    assert cfg.lr == 0.001 and cfg.model == {"d_model": 64} and cfg.mixed_precision == "bf16"


def test_bad_recipes_get_specific_errors(tmp_path):
    with pytest.raises(RecipeError, match="max_stepz"):
        load_recipe(RECIPES / "toy.yaml", {**REQUIRED, "max_stepz": 3})
    with pytest.raises(RecipeError, match="data"):
        load_recipe(RECIPES / "toy.yaml", {"out_dir": "x"})
    with pytest.raises(RecipeError, match="key=value"):
        parse_overrides(["lr"])
    broken = tmp_path / "r.yaml"
    broken.write_text("lr: [1,\n")
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(broken, {})


def test_warmup_then_cosine_to_the_floor():
    factors = [warmup_cosine(s, warmup=4, total=104, min_ratio=0.1) for s in range(104)]
    assert factors[:4] == [0.25, 0.5, 0.75, 1.0]
    assert factors[54] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert factors[-1] == pytest.approx(0.1, abs=1e-3)
    assert all(a >= b for a, b in zip(factors[3:], factors[4:], strict=False))


@pytest.mark.parametrize("path", sorted(RECIPES.glob("*.yaml")), ids=lambda path: path.name)
def test_every_bundled_recipe_builds_its_model_config(path):
    cfg = load_recipe(path, REQUIRED)
    assert LCMConfig.from_dict({**preset(cfg.preset).to_dict(), **cfg.model})


def test_a_typo_in_the_model_fails_when_the_recipe_loads():
    typo = {**REQUIRED, "model.diffusion.prediction": "epsilom"}
    with pytest.raises(RecipeError, match="diffusion: prediction must be one of .*got 'epsilom'"):
        load_recipe(RECIPES / "toy.yaml", typo)
    with pytest.raises(RecipeError, match="unknown LCM preset 'tooy'"):
        load_recipe(RECIPES / "toy.yaml", {**REQUIRED, "preset": "tooy"})
