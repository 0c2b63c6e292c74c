"""An analytic compute model: FLOPs per generated sentence, LCM against a token-level LLM.

The paper (section 2.5, inference efficiency) argues that an LCM gets cheaper than a
token-level decoder of the same size once a text is long enough, because its attention
runs over sentences instead of tokens. This module counts, for the exact code in
engine.lcm, what one generated concept costs, and sets it next to what Llama-2-7B
pays for the tokens of one sentence at the same place in a text.

Convention (the one of torch.utils.flop_counter.FlopCounterMode, which the tests use to
check these formulas on toy models): only matrix products count, a multiply-add is 2
FLOPs, a linear layer on n rows costs 2 n d_in d_out, attention costs 4 q_len k_len d
(scores plus weighted sum, no discount for causal masks). Norms, activations and the
DDIM arithmetic are left out; they are a few percent at these widths.

Everything is per generating sequence (batch 1). KV caches are assumed where the code
keeps them: the LLM caches its tokens; the LCM caches the contextualizer's keys/values
and the denoiser's cross-attention keys/values of the context (engine.lcm does both).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.lcm import LCMConfig, preset
from engine.lcm.blocks import ffn_hidden_dim

TIME_FREQ_DIM = 256  # TimestepEmbedding's sinusoidal features (engine.lcm.blocks)
QUANT_TYPES = ("quant_lcm_d", "quant_lcm_c")
TOWERED = ("two_tower", *QUANT_TYPES)  # a contextualizer and cross-attention memory
ADALN_CHUNKS = 9  # shift, scale, gate for each of the denoiser's three sub-layers


def linear(rows: float, d_in: int, d_out: int) -> float:
    return 2.0 * rows * d_in * d_out


def attention(rows: float, q_len: float, k_len: float, d: int) -> float:
    """Scores (q k^T) plus weighted values for `rows` sequences of q_len queries."""
    return 4.0 * rows * q_len * k_len * d


def block(rows: float, q_len: float, k_len: float, d: int, hidden: int) -> float:
    """One pre-norm LLaMA-style layer (q, k, v, out projections; SwiGLU) on q_len new
    positions attending to k_len keys."""
    n = rows * q_len
    return 4 * linear(n, d, d) + attention(rows, q_len, k_len, d) + 3 * linear(n, d, hidden)


# ---- token-level decoders ---------------------------------------------------------------


@dataclass(frozen=True)
class TokenDecoder:
    """Shapes of a LLaMA-style decoder-only language model."""

    name: str
    d_model: int
    n_layers: int
    ffn_hidden: int
    vocab: int

    def token(self, k_len: float) -> float:
        """FLOPs to produce one token whose attention sees k_len cached+new positions."""
        layers = self.n_layers * block(1, 1, k_len, self.d_model, self.ffn_hidden)
        return layers + linear(1, self.d_model, self.vocab)

    def tokens(self, start: float, count: int) -> float:
        """FLOPs to generate `count` tokens after `start` cached tokens (closed form of
        the sum of token(start + j + 1) over j)."""
        mean_k_len = start + (count + 1) / 2
        return count * self.token(mean_k_len)

    def prefill(self, length: int) -> float:
        """FLOPs to read a prompt of `length` tokens at once (no logits but the last)."""
        d, hidden = self.d_model, self.ffn_hidden
        return self.n_layers * block(1, length, length, d, hidden) + linear(1, d, self.vocab)


LLAMA2_7B = TokenDecoder("Llama-2-7B", d_model=4096, n_layers=32, ffn_hidden=11008, vocab=32000)


@dataclass(frozen=True)
class SonarDecoder:
    """SONAR's text decoder (text_sonar_basic_decoder): 24 post-embedding layers, ReLU FFN,
    cross-attention to a memory of one vector (the concept); greedy decoding."""

    d_model: int = 1024
    n_layers: int = 24
    ffn_hidden: int = 8192
    vocab: int = 256206

    def matrix_weights(self) -> int:
        """Weights of the matrices counted below: self- and cross-attention (q, k, v, out),
        the FFN, and the output projection (tied to the embeddings)."""
        d = self.d_model
        return self.n_layers * (8 * d * d + 2 * d * self.ffn_hidden) + d * self.vocab

    def sentence(self, tokens: int) -> float:
        d, f = self.d_model, self.ffn_hidden
        memory_kv = self.n_layers * 2 * linear(1, d, d)  # once per sentence, memory length 1
        mean_k_len = (tokens + 1) / 2
        per_token = self.n_layers * (
            4 * linear(1, d, d)  # self-attention projections
            + attention(1, 1, mean_k_len, d)
            + 2 * linear(1, d, d)  # cross-attention query and output
            + attention(1, 1, 1, d)
            + 2 * linear(1, d, f)  # ReLU FFN
        ) + linear(1, d, self.vocab)
        return memory_kv + tokens * per_token


SONAR_DECODER = SonarDecoder()


# ---- concept models (exactly the layers of engine.lcm) ---------------------------------


def _hidden(config: LCMConfig) -> int:
    return ffn_hidden_dim(config.d_model, config.ffn_multiple_of)


def context_pass(config: LCMConfig, new: int, keys: int, rows: int = 1) -> float:
    """The causal body (Two-Tower contextualizer, Base-LCM decoder, One-Tower body) on
    `new` positions that attend to `keys` positions, including its prenet."""
    d = config.d_model
    body = config.n_layers * block(rows, new, keys, d, _hidden(config))
    return linear(rows * new, config.dim, d) + body


def memory_kv(config: LCMConfig, positions: int, rows: int = 1) -> float:
    """Two-Tower: cross-attention keys and values of `positions` memory entries, all
    denoiser layers (computed once, when the context grows, never per DDIM step)."""
    return config.n_denoiser_layers * 2 * linear(rows * positions, config.d_model, config.d_model)


def _time_embedding(config: LCMConfig, rows: int) -> float:
    d = config.d_model
    return linear(rows, TIME_FREQ_DIM, d) + linear(rows, d, d)


def _head_layers(config: LCMConfig, rows: int, memory: int) -> float:
    """The Two-Tower denoiser's layers (also the quantized LCMs' head) on `rows` queries
    whose context holds `memory` entries; the AdaLN modulation is one row (one step)."""
    d, hidden = config.d_model, _hidden(config)
    per_layer = (
        linear(1, d, ADALN_CHUNKS * d)
        + block(rows, 1, 1, d, hidden)  # self-attention sees only itself, plus the FFN
        + 2 * linear(rows, d, d)  # cross-attention query and output
        + attention(rows, 1, memory, d)
    )
    return config.n_denoiser_layers * per_layer


def denoiser_pass(config: LCMConfig, rows: int, memory: int) -> float:
    """One network evaluation of the diffusion head for `rows` noisy concepts whose
    context holds `memory` entries (Two-Tower: zero vector + context; One-Tower: clean
    context + the query itself)."""
    d, hidden = config.d_model, _hidden(config)
    # All rows share one timestep: its embedding (and AdaLN modulation) is one row.
    io = linear(rows, config.dim, d) + _time_embedding(config, 1) + linear(rows, d, config.dim)
    if config.model_type == "one_tower":
        return io + config.n_layers * block(rows, 1, memory, d, hidden)
    return io + _head_layers(config, rows, memory)


def level_pass(config: LCMConfig, rows: int, memory: int) -> float:
    """One codebook level of a quantized LCM: the head on `rows` partial sums (the level
    embedding is a table lookup), then the level's logits: Quant-LCM-d's output layer, or
    Quant-LCM-c's residual plus its distances to the units (one matrix product)."""
    d, units = config.d_model, config.quant.codebook_size
    if config.model_type == "quant_lcm_d":
        out = linear(rows, d, units)
    else:
        out = linear(rows, d, config.dim) + linear(rows, config.dim, units)
    return linear(rows, config.dim, d) + _head_layers(config, rows, memory) + out


def propose(
    config: LCMConfig, context: int, num_samples: int = 1, steps: int = 40, guided: bool = True
) -> float:
    """FLOPs of one `propose`: every DDIM step runs the denoiser once on all samples
    (twice as many rows with classifier-free guidance: conditional + unconditional); a
    quantized LCM runs its head once per codebook instead (no steps, no guidance)."""
    if config.model_type == "base_lcm":
        return linear(1, config.d_model, config.dim)  # the postnet on the cached output
    if config.model_type in QUANT_TYPES:
        return config.quant.num_codebooks * level_pass(config, num_samples, context + 1)
    rows = num_samples * (2 if guided else 1)
    memory = context + 1  # Two-Tower: zero vector; One-Tower: the query itself
    return steps * denoiser_pass(config, rows, memory)


def start(config: LCMConfig, context: int) -> float:
    """Reading a context of `context` concepts from scratch (fills the caches)."""
    if config.model_type == "base_lcm":
        return context_pass(config, context + 1, context + 1)  # zero start vector in front
    flops = context_pass(config, context, context) if context else 0.0
    if config.model_type in TOWERED:
        flops += memory_kv(config, context + 1)
    return flops


def append(config: LCMConfig, context: int) -> float:
    """Extending the caches by one concept after `context` concepts."""
    keys = context + 2 if config.model_type == "base_lcm" else context + 1
    flops = context_pass(config, 1, keys)
    if config.model_type in TOWERED:
        flops += memory_kv(config, 1)
    return flops


def per_concept(
    config: LCMConfig,
    context: int,
    steps: int = 40,
    guided: bool = True,
    num_samples: int = 1,
    cached: bool = True,
) -> float:
    """FLOPs to generate the next concept after `context` concepts: with caches, one
    `append` of the previous concept plus one `propose`; without, a fresh `start`."""
    reading = append(config, context - 1) if cached and context else start(config, context)
    return reading + propose(config, context, num_samples, steps, guided)


def parameters(config: LCMConfig) -> int:
    """Weights of the matrices counted above plus biases and norms, for a sanity check
    against the model's real parameter count."""
    d, hidden, dim = config.d_model, _hidden(config), config.dim
    layer = 4 * d * d + 3 * d * hidden + 2 * d  # attention, SwiGLU, two RMSNorm weights
    biases = (4 * d, 2 * hidden + d) if config.bias else (0, 0)  # per attention, per SwiGLU
    layer += biases[0] + biases[1]
    io = (dim * d + d) + (d * dim + dim)  # prenet, postnet
    time = (TIME_FREQ_DIM * d + d) + (d * d + d)
    if config.model_type == "base_lcm":
        return io + config.n_layers * layer + d
    if config.model_type == "one_tower":
        return io + time + config.n_layers * layer + d
    denoiser_layer = 8 * d * d + 3 * d * hidden + (d * ADALN_CHUNKS * d + ADALN_CHUNKS * d)
    denoiser_layer += 2 * biases[0] + biases[1]  # self- and cross-attention, SwiGLU
    contextualizer = (dim * d + d) + config.n_layers * layer + d
    towers = contextualizer + config.n_denoiser_layers * denoiser_layer + d
    if config.model_type in QUANT_TYPES:  # level embedding; postnet to units or residual
        out = config.quant.codebook_size if config.model_type == "quant_lcm_d" else dim
        quant = config.quant
        return towers + (dim * d + d) + quant.num_codebooks * d + (d * out + out)
    return towers + io + time


# ---- the comparison of the paper's figure ----------------------------------------------

SENTENCE_TOKENS = 25  # assumed mean sentence length in Llama-2 tokens (see BENCHMARKS.md)
LCM_PRESETS = ("two_tower_1.6b", "two_tower_7b")


@dataclass(frozen=True)
class Comparison:
    """FLOPs to write the next sentence once `total_tokens` of text exist."""

    total_tokens: int
    sentence_tokens: int
    llm: float  # Llama-2-7B: sentence_tokens decoding steps
    lcm: dict[str, float]  # preset -> contextualizer append + guided DDIM (40 steps)
    sonar_decoder: float  # turning one concept into sentence_tokens tokens


def compare(
    total_tokens: int,
    sentence_tokens: int = SENTENCE_TOKENS,
    steps: int = 40,
    guided: bool = True,
) -> Comparison:
    context = max(total_tokens // sentence_tokens, 1)
    lcm = {
        name: per_concept(preset(name), context, steps=steps, guided=guided) for name in LCM_PRESETS
    }
    return Comparison(
        total_tokens,
        sentence_tokens,
        LLAMA2_7B.tokens(total_tokens, sentence_tokens),
        lcm,
        SONAR_DECODER.sentence(sentence_tokens),
    )


def crossover(
    name: str,
    sentence_tokens: int = SENTENCE_TOKENS,
    steps: int = 40,
    guided: bool = True,
    with_decoder: bool = True,
    limit: int = 10**8,
) -> int | None:
    """Smallest total length (tokens, to sentence granularity) from which the LCM's next
    sentence costs fewer FLOPs than Llama-2-7B's; None if not below `limit`."""

    def lcm_cheaper(total: int) -> bool:
        c = compare(total, sentence_tokens, steps, guided)
        lcm = c.lcm[name] + (c.sonar_decoder if with_decoder else 0.0)
        return lcm < c.llm

    low, high = sentence_tokens, limit
    if lcm_cheaper(low):
        return low
    if not lcm_cheaper(high):
        return None
    while high - low > sentence_tokens:  # both costs grow linearly: bisection is exact
        mid = (low + high) // 2
        low, high = (low, mid) if lcm_cheaper(mid) else (mid, high)
    return high
