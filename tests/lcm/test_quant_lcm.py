"""Quant-LCM-d and Quant-LCM-c: sampling options, KV caches against the uncached training
forward, batching, seeds, checkpoints, training loss. Tiny models with random weights."""

from __future__ import annotations

import pytest
import torch

from engine.lcm import QuantLCMC, QuantLCMD, SamplerConfig, load_lcm
from engine.lcm.quant_lcm import sample_units
from tests.lcm.helpers import QUANT_TYPES, toy_quant_model


@pytest.fixture(params=QUANT_TYPES)
def model(request):
    return toy_quant_model(request.param)


def test_temperature_towards_zero_equals_greedy(model):
    context = torch.randn(4, model.dim)
    greedy = model.sample_next(context, num_samples=3, seed=0, temperature=0.0)
    assert torch.equal(greedy[0], greedy[1])  # nothing random is left
    torch.testing.assert_close(model.sample_next(context, 3, seed=9, temperature=0.0), greedy)
    cold = model.sample_next(context, num_samples=3, seed=1, temperature=1e-6)
    torch.testing.assert_close(cold, greedy)


def test_top_k_one_equals_argmax(model):
    context = torch.randn(4, model.dim)
    greedy = model.sample_next(context, num_samples=2, seed=0, temperature=0.0)
    hot = model.sample_next(context, num_samples=2, seed=3, temperature=50.0, top_k=1)
    torch.testing.assert_close(hot, greedy)


def test_sample_units_options_against_hand_computed_cases():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]])).expand(4000, -1)

    def frequencies(**options) -> torch.Tensor:
        drawn = sample_units(logits, SamplerConfig(**options), torch.Generator().manual_seed(0))
        return torch.bincount(drawn, minlength=4) / len(drawn)

    torch.testing.assert_close(frequencies(), torch.tensor([0.5, 0.3, 0.15, 0.05]), atol=0.03,
                               rtol=0)  # fmt: skip
    torch.testing.assert_close(frequencies(top_k=2), torch.tensor([0.625, 0.375, 0, 0]),
                               atol=0.03, rtol=0)  # fmt: skip
    # top_p 0.8: 0.5 + 0.3 reaches it, so the nucleus is the first two units.
    torch.testing.assert_close(frequencies(top_p=0.8), frequencies(top_k=2))
    torch.testing.assert_close(frequencies(top_p=0.81), torch.tensor([0.5, 0.3, 0.15, 0]) / 0.95,
                               atol=0.03, rtol=0)  # fmt: skip
    assert frequencies(top_p=0.1)[0] == 1.0  # the most likely unit always stays
    flat = frequencies(temperature=1e3)
    assert (flat - 0.25).abs().max() < 0.03


def test_seeds_reproduce_and_differ(model):
    context = torch.randn(4, model.dim)
    options = {"temperature": 30.0}  # random weights give peaked units: flatten them
    a = model.sample_next(context, num_samples=4, seed=1, **options)
    torch.testing.assert_close(model.sample_next(context, num_samples=4, seed=1, **options), a)
    assert not torch.equal(model.sample_next(context, num_samples=4, seed=2, **options), a)
    generated = model.generate(context, max_concepts=3, seed=3, **options)
    torch.testing.assert_close(model.generate(context, max_concepts=3, seed=3, **options),
                               generated)  # fmt: skip


def test_samples_are_sums_of_one_unit_per_codebook(model):
    out = model.sample_next(torch.randn(3, model.dim), num_samples=5, seed=0, temperature=30.0)
    codes = model.rvq.encode(out)
    torch.testing.assert_close(model.rvq.decode(codes), out, atol=1e-4, rtol=1e-4)


def test_kv_cache_equals_recomputation_with_the_training_forward(model):
    """Greedy sampling through the cached contextualizer (context read in two parts) gives
    the units that the uncached all-positions training forward picks level by level."""
    context = torch.randn(5, model.dim)
    x = model.normalizer.normalize(context)[None]
    valid = torch.ones(1, 5, dtype=torch.bool)
    greedy = SamplerConfig(temperature=0.0)
    with torch.no_grad():
        state = model.start(x[:, :2], valid[:, :2])
        for i in range(2, 5):
            model.append(state, x[:, i])
        cached = model.propose(state, 1, None, greedy)[0, 0]
        clean = torch.cat([x, torch.zeros(1, 1, model.dim)], dim=1)  # the next slot is unseen
        partial = torch.zeros(model.dim)
        for level, units in enumerate(model.rvq.codebooks):
            x_t = torch.cat([torch.randn(1, 5, model.dim), model.normalizer.normalize(partial)
                             [None, None]], dim=1)  # fmt: skip
            levels = torch.full((1, 6), level)
            out = model(clean, torch.ones(1, 6, dtype=torch.bool), x_t, levels)[0, -1:]
            partial = partial + units[model.unit_logits(out, level).argmax()]
    torch.testing.assert_close(cached, model.normalizer.normalize(partial), atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        whole = model.start(x, valid)
    for (k_cached, v_cached), (k_whole, v_whole) in zip(state.memory_kv, whole.memory_kv,
                                                        strict=True):  # fmt: skip
        torch.testing.assert_close(k_cached, k_whole, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(v_cached, v_whole, atol=1e-5, rtol=1e-5)


def test_batched_generation_matches_one_context_at_a_time(model):
    contexts = [torch.randn(n, model.dim) for n in (3, 0, 6)]
    options = {"temperature": 0.0, "eot_threshold": 2.0, "repeat_threshold": 2.0}
    batched = model.generate_batch(contexts, max_concepts=3, seed=0, **options)
    for context, out in zip(contexts, batched, strict=True):
        assert out.shape == (3, model.dim)
        alone = model.generate(context, max_concepts=3, seed=0, **options)
        torch.testing.assert_close(out, alone, atol=1e-5, rtol=1e-5)


def test_batched_sampling_matches_one_context_at_a_time(model):
    contexts = [torch.randn(n, model.dim) for n in (4, 0, 2)]
    batched = model.sample_next_batch(contexts, num_samples=2, seed=0, temperature=0.0)
    assert batched.shape == (3, 2, model.dim)
    for context, rows in zip(contexts, batched, strict=True):
        alone = model.sample_next(context, num_samples=2, seed=0, temperature=0.0)
        torch.testing.assert_close(rows, alone, atol=1e-5, rtol=1e-5)


def test_save_load_gives_identical_outputs(tmp_path, model):
    context = torch.randn(5, model.dim)
    path = model.save_pretrained(tmp_path / "ckpt")
    loaded = load_lcm(path, device="cpu")
    assert type(loaded) is type(model)
    assert type(loaded) in (QuantLCMD, QuantLCMC)
    assert torch.equal(loaded.rvq.codebooks, model.rvq.codebooks)
    options = {"seed": 4, "temperature": 30.0, "top_p": 0.9}
    expected = model.sample_next(context, 3, **options)
    torch.testing.assert_close(loaded.sample_next(context, 3, **options), expected, rtol=0, atol=0)


def test_loss_trains_and_ignores_unscored_positions(model):
    model.train()
    concepts = torch.randn(3, 5, model.dim) * 2.0 + 0.5
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 1, 1, 1, 0]], dtype=torch.bool)
    loss = model.loss(concepts, mask)
    loss.backward()
    assert loss.ndim == 0 and torch.isfinite(loss) and loss > 0
    assert model.postnet.weight.grad.abs().sum() > 0
    model.eval()
    changed = concepts.clone()
    changed[1, 3:] = 100.0  # padding
    torch.manual_seed(0)
    reference = model.loss(concepts, mask)
    torch.manual_seed(0)
    torch.testing.assert_close(model.loss(changed, mask), reference)


def test_a_few_steps_of_training_fit_a_repeating_document():
    """Optimising on one document lowers the loss and makes greedy sampling of its next
    concept land on the RVQ's quantisation of the true next concept."""
    for model_type in QUANT_TYPES:
        model = toy_quant_model(model_type).train()
        concepts = (torch.randn(6, model.dim) * 2.0 + 0.5)[None]
        mask = torch.ones(1, 6, dtype=torch.bool)
        optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
        torch.manual_seed(0)
        first = model.loss(concepts, mask).item()
        for _ in range(300):
            optimizer.zero_grad()
            model.loss(concepts, mask).backward()
            optimizer.step()
        assert model.loss(concepts, mask).item() < 0.3 * first, model_type
        target = model.rvq.decode(model.rvq.encode(concepts[0, 3]))
        got = model.sample_next(concepts[0, :3], num_samples=1, temperature=0.0)[0]
        torch.testing.assert_close(got, target, atol=1e-4, rtol=1e-4)


def test_bad_sampling_options_are_rejected(model):
    for bad, message in (({"temperature": -1.0}, "temperature"), ({"top_p": 0.0}, "top_p"),
                         ({"top_k": 0}, "top_k")):  # fmt: skip
        with pytest.raises(ValueError, match=message):
            model.sample_next(torch.randn(2, model.dim), **bad)


def test_bfloat16_models_sample_in_their_own_dtype(model):
    model = model.to(torch.bfloat16)
    out = model.sample_next(torch.randn(3, model.dim), num_samples=2)
    assert out.dtype == torch.bfloat16 and torch.isfinite(out).all()
