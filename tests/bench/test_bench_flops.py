"""The analytic compute model (benchmarks/flops.py) against torch's own FLOP counter,
run on the real engine.lcm models at toy sizes. Exact equality: both count only matrix
products, so any missing or extra layer in the formulas shows up as a difference."""

import pytest
import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from benchmarks import flops
from engine.lcm import QuantConfig, SamplerConfig, build_model, preset
from engine.lcm.blocks import KVCache, Transformer, causal_mask, ffn_hidden_dim

MODEL_TYPES = ["two_tower", "one_tower", "base_lcm", "quant_lcm_d", "quant_lcm_c"]


def counted(fn) -> int:
    """FLOPs torch counts for fn(). The math attention backend is forced because the
    counter has no formula for the fused CPU kernel (it would count attention as 0)."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad(), sdpa_kernel(SDPBackend.MATH):
        fn()
    return counter.get_total_flops()


def toy_model(model_type: str):
    torch.manual_seed(0)
    config = preset("toy", model_type=model_type, dim=24, d_model=48, n_heads=4,
                    quant=QuantConfig(num_codebooks=3, codebook_size=40))  # fmt: skip
    return build_model(config).eval()


def context_state(model, length: int):
    x = torch.randn(1, length, model.dim)
    return model.start(x, torch.ones(1, length, dtype=torch.bool))


@pytest.mark.parametrize("model_type", MODEL_TYPES)
@pytest.mark.parametrize("length", [0, 1, 7])
def test_reading_a_context_matches_the_counter(model_type, length):
    model = toy_model(model_type)
    assert counted(lambda: context_state(model, length)) == flops.start(model.config, length)


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_appending_one_concept_matches_the_counter(model_type):
    model = toy_model(model_type)
    state = context_state(model, 5)
    measured = counted(lambda: model.append(state, torch.randn(1, model.dim)))
    assert measured == flops.append(model.config, 5)


@pytest.mark.parametrize("model_type", MODEL_TYPES)
@pytest.mark.parametrize(("steps", "guidance", "samples"), [(3, 3.0, 2), (5, 1.0, 4)])
def test_proposing_matches_the_counter(model_type, steps, guidance, samples):
    model = toy_model(model_type)
    state = context_state(model, 6)
    options = SamplerConfig(steps=steps, guidance_scale=guidance)
    generator = torch.Generator().manual_seed(0)
    measured = counted(lambda: model.propose(state, samples, generator, options))
    expected = flops.propose(model.config, 6, samples, steps, guided=guidance != 1.0)
    assert measured == expected


def test_steps_multiply_and_guidance_nearly_doubles_the_denoiser_cost():
    config = preset("two_tower_1.6b")
    one_step = flops.propose(config, 100, steps=1, guided=True)
    assert flops.propose(config, 100, steps=40, guided=True) == pytest.approx(40 * one_step)
    # Guidance doubles the rows; the timestep's embedding and AdaLN modulation are shared.
    ratio = one_step / flops.propose(config, 100, steps=1, guided=False)
    assert 1.5 < ratio < 2


def test_parameter_count_matches_the_models():
    for model_type in MODEL_TYPES:
        model = toy_model(model_type)
        assert flops.parameters(model.config) == sum(p.numel() for p in model.parameters())
    with torch.device("meta"):
        big = build_model(preset("two_tower_7b"))
    assert flops.parameters(big.config) == sum(p.numel() for p in big.parameters())


def test_token_decoder_formula_matches_a_llama_shaped_toy():
    """TokenDecoder's formulas on a LLaMA-shaped toy built from engine.lcm's blocks
    (RMSNorm, RoPE, SwiGLU, KV cache) plus an output head."""
    d, layers, vocab = 32, 3, 50
    hidden = ffn_hidden_dim(d, 8)
    shape = flops.TokenDecoder("toy", d, layers, hidden, vocab)
    body = Transformer(d, 4, layers, hidden, 1e-5, 10000.0, 0.0).eval()
    head = nn.Linear(d, vocab, bias=False)
    prompt, caches = 9, body.new_caches()

    def run(x, valid, new, caches):
        positions = torch.arange(valid.shape[1])[None, -new:]
        return head(body(x, positions, causal_mask(valid, new), caches)[:, -1])

    valid = torch.ones(1, prompt, dtype=torch.bool)
    prefill = counted(lambda: run(torch.randn(1, prompt, d), valid, prompt, caches))
    assert prefill == shape.prefill(prompt)

    def decode(count: int) -> None:
        nonlocal valid
        for _ in range(count):
            valid = torch.ones(1, valid.shape[1] + 1, dtype=torch.bool)
            run(torch.randn(1, 1, d), valid, 1, caches)

    assert counted(lambda: decode(1)) == shape.token(prompt + 1)
    assert counted(lambda: decode(4)) == shape.tokens(prompt + 1, 4)
    assert isinstance(caches[0], KVCache) and caches[0].k.shape[2] == prompt + 5


def test_llama2_7b_shapes_give_its_known_size():
    llama = flops.LLAMA2_7B
    per_layer = 4 * llama.d_model**2 + 3 * llama.d_model * llama.ffn_hidden
    weights = llama.n_layers * per_layer + 2 * llama.d_model * llama.vocab
    assert weights == pytest.approx(6.74e9, rel=1e-3)  # Llama-2-7B: 6,738,415,616 with norms
    # At short context a token costs about 2 FLOPs per weight touched (embeddings are a
    # lookup, so not counted).
    assert llama.token(1) == pytest.approx(2 * (weights - llama.d_model * llama.vocab), rel=1e-3)


def test_crossover_is_where_the_costs_meet():
    total = flops.crossover("two_tower_7b", sentence_tokens=50)
    assert total is not None
    before, after = flops.compare(total - 50, 50), flops.compare(total, 50)
    assert before.lcm["two_tower_7b"] + before.sonar_decoder >= before.llm
    assert after.lcm["two_tower_7b"] + after.sonar_decoder < after.llm


@pytest.mark.slow  # imports fairseq2 and builds the 24-layer decoder's modules
def test_sonar_decoder_shapes_match_the_real_architecture():
    from sonar.models.sonar_text import get_sonar_text_decoder_hub

    hub = get_sonar_text_decoder_hub()
    with torch.device("meta"):  # shapes only: no 3.5 GB of weights
        decoder = hub.create_new_model(hub.get_arch_config("basic"), device=torch.device("cpu"))
    matrices = sum(p.numel() for p in decoder.parameters() if p.dim() == 2)
    assert matrices == flops.SONAR_DECODER.matrix_weights()
