"""The bundled demo codec: a small sentence autoencoder that runs on a CPU.

Real SONAR needs a GPU to be interactive; this codec is the offline default. A
transformer encoder reads a sentence and mean-pools it into one concept vector; a
transformer decoder reads that vector back as a few "memory slots" (the vector is
projected into `memory_slots` pseudo-tokens, which gives cross-attention something to
choose between) and writes the sentence token by token, with a KV cache. It has its own
SentencePiece tokenizer, shared by its languages. The encoder is language-agnostic (a
sentence and its translations should land on one concept); the decoder is told which
language to write by a learned language embedding added to every input position.

Checkpoint directory: config.json ("codec_type": "demo") + model.safetensors (fp16) +
tokenizer.model.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import sentencepiece as spm
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from engine.codec.base import CodecError, CodecUnavailableError, UnsupportedLanguageError
from engine.device import default_device

CODEC_TYPE = "demo"
LANG = "eng_Latn"  # the language of a checkpoint that names none
LANGUAGES = ("eng_Latn", "fra_Latn", "deu_Latn", "spa_Latn")  # what the bundled codec writes
PAD, UNK, BOS, EOS = 0, 1, 2, 3
# The byte piece <0x00>: SentencePiece's byte fallback puts its 256 byte pieces right after
# the four special ids. Decoding never writes it: a NUL is not text, and storage refuses it.
NUL = 4


@dataclass
class DemoCodecConfig:
    vocab_size: int = 8000
    dim: int = 512  # size of the concept vector
    d_model: int = 256
    n_heads: int = 4
    # 2 + 2 layers: on a 2-core CPU this learns about twice as fast per minute as 3 + 3
    encoder_layers: int = 2
    decoder_layers: int = 2
    memory_slots: int = 8
    pool_hidden: int = 1024  # width of the token-wise MLP applied before mean pooling
    max_tokens: int = 128  # longer inputs are truncated; decoding stops here
    # Decoding never writes a run of this many tokens twice in one sentence (0: off). The
    # small decoder loops ("the function returns the function returns"): its round trip of
    # held-out text repeated 3.4 times as many 4-grams as the text itself.
    no_repeat_ngram: int = 4
    dropout: float = 0.0
    languages: tuple[str, ...] = LANGUAGES  # what the decoder writes, as SONAR codes; [0]: English
    codec_type: str = CODEC_TYPE

    def __post_init__(self) -> None:
        self.languages = tuple(self.languages)  # JSON gives a list


def _heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    b, t, d = x.shape
    return x.view(b, t, n_heads, d // n_heads).transpose(1, 2)


def _merge(x: torch.Tensor) -> torch.Tensor:
    b, h, t, d = x.shape
    return x.transpose(1, 2).reshape(b, t, h * d)


class Attention(nn.Module):
    """Multi-head attention; `cache` (a dict) keeps keys/values between decoding steps.

    Self-attention appends the new keys/values to the cache; cross-attention
    (`static=True`) computes them from `source` once and reuses them.
    """

    def __init__(self, cfg: DemoCodecConfig) -> None:
        super().__init__()
        self.n_heads = cfg.n_heads
        self.dropout = cfg.dropout
        self.q = nn.Linear(cfg.d_model, cfg.d_model)
        self.kv = nn.Linear(cfg.d_model, 2 * cfg.d_model)
        self.out = nn.Linear(cfg.d_model, cfg.d_model)

    def forward(
        self,
        x: torch.Tensor,
        source: torch.Tensor,
        mask: torch.Tensor | None = None,
        causal: bool = False,
        cache: dict | None = None,
        static: bool = False,
    ) -> torch.Tensor:
        q = _heads(self.q(x), self.n_heads)
        if cache is not None and static and "k" in cache:
            k, v = cache["k"], cache["v"]
        else:
            k, v = (_heads(t, self.n_heads) for t in self.kv(source).chunk(2, dim=-1))
            if cache is not None:
                if not static and "k" in cache:
                    k, v = torch.cat([cache["k"], k], 2), torch.cat([cache["v"], v], 2)
                cache["k"], cache["v"] = k, v
        y = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=mask,
            is_causal=causal and q.shape[2] > 1,
            dropout_p=self.dropout if self.training else 0.0,
        )
        return self.out(_merge(y))


class Block(nn.Module):
    """Pre-norm transformer block; with `cross=True` it also attends to a memory."""

    def __init__(self, cfg: DemoCodecConfig, cross: bool) -> None:
        super().__init__()
        self.ln_self = nn.LayerNorm(cfg.d_model)
        self.self_attn = Attention(cfg)
        self.ln_cross = nn.LayerNorm(cfg.d_model) if cross else None
        self.cross_attn = Attention(cfg) if cross else None
        self.ln_mlp = nn.LayerNorm(cfg.d_model)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.d_model, 4 * cfg.d_model),
            nn.GELU(),
            nn.Linear(4 * cfg.d_model, cfg.d_model),
            nn.Dropout(cfg.dropout),
        )

    def forward(self, x, mask=None, causal=False, memory=None, cache=None):
        h = self.ln_self(x)
        x = x + self.self_attn(h, h, mask, causal, None if cache is None else cache["self"])
        if self.cross_attn is not None:
            h = self.ln_cross(x)
            x = x + self.cross_attn(
                h, memory, cache=None if cache is None else cache["cross"], static=True
            )
        return x + self.mlp(self.ln_mlp(x))


class DemoAutoencoder(nn.Module):
    """Token ids -> concept vector -> token ids. Token embeddings are shared by the
    encoder, the decoder and the output layer."""

    def __init__(self, cfg: DemoCodecConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model, padding_idx=PAD)
        self.enc_pos = nn.Embedding(cfg.max_tokens, cfg.d_model)
        self.dec_pos = nn.Embedding(cfg.max_tokens + 1, cfg.d_model)
        self.encoder = nn.ModuleList(Block(cfg, cross=False) for _ in range(cfg.encoder_layers))
        self.enc_ln = nn.LayerNorm(cfg.d_model)
        # Token-wise MLP *before* the mean: each token can write its content into its own
        # part of the concept. Pooling first and projecting after would make the concept a
        # linear image of a d_model-wide mean, with rank at most d_model < dim.
        self.to_concept = nn.Sequential(
            nn.Linear(cfg.d_model, cfg.pool_hidden), nn.GELU(), nn.Linear(cfg.pool_hidden, cfg.dim)
        )
        # Bag-of-words head (training only): predicts the sentence's tokens from the
        # concept alone, so the encoder is pushed to store content from the first steps on.
        self.concept_to_words = nn.Linear(cfg.dim, cfg.d_model)
        self.to_memory = nn.Linear(cfg.dim, cfg.memory_slots * cfg.d_model)
        self.slot_emb = nn.Parameter(torch.zeros(cfg.memory_slots, cfg.d_model))
        self.mem_ln = nn.LayerNorm(cfg.d_model)
        self.decoder = nn.ModuleList(Block(cfg, cross=True) for _ in range(cfg.decoder_layers))
        self.dec_ln = nn.LayerNorm(cfg.d_model)
        # The memory, pooled, is also added to every decoder input: a direct path from the
        # concept to each position that does not have to go through cross-attention.
        self.memory_to_input = nn.Linear(cfg.d_model, cfg.d_model)
        self.lang_emb = nn.Embedding(len(cfg.languages), cfg.d_model)
        self.apply(self._init)
        nn.init.zeros_(self.memory_to_input.weight)
        nn.init.zeros_(self.lang_emb.weight)

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def encode(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens [B, T] (PAD-padded) -> concepts [B, dim]."""
        valid = tokens != PAD
        pos = torch.arange(tokens.shape[1], device=tokens.device)
        x = self.tok_emb(tokens) + self.enc_pos(pos)
        mask = valid[:, None, None, :]
        for block in self.encoder:
            x = block(x, mask=mask)
        x = self.to_concept(self.enc_ln(x)) * valid[..., None]
        return x.sum(1) / valid.sum(1, keepdim=True).clamp(min=1)

    def memory(self, concepts: torch.Tensor) -> torch.Tensor:
        """concepts [B, dim] -> decoder memory [B, memory_slots, d_model]."""
        m = self.to_memory(concepts).view(-1, self.cfg.memory_slots, self.cfg.d_model)
        return self.mem_ln(m + self.slot_emb)

    def decode_step(self, inputs, memory, langs, start: int = 0, caches=None) -> torch.Tensor:
        """Logits for decoder inputs [B, T] at positions start..start+T-1, writing in the
        languages `langs` [B] (indices into cfg.languages)."""
        pos = torch.arange(start, start + inputs.shape[1], device=inputs.device)
        steer = self.memory_to_input(memory.mean(1)) + self.lang_emb(langs)
        x = self.tok_emb(inputs) + self.dec_pos(pos) + steer[:, None]
        for i, block in enumerate(self.decoder):
            x = block(x, causal=True, memory=memory, cache=None if caches is None else caches[i])
        return F.linear(self.dec_ln(x), self.tok_emb.weight)

    def writing_loss(
        self, concepts: torch.Tensor, tokens: torch.Tensor, langs: torch.Tensor,
        input_dropout: float = 0.0,
    ) -> torch.Tensor:  # fmt: skip
        """Teacher-forced cross-entropy of writing `tokens` [B, T] (PAD-padded, no
        BOS/EOS) in `langs` [B] from `concepts` [B, dim].

        `input_dropout` replaces that share of the decoder's input tokens with UNK: a
        decoder that cannot lean on the previous words has to read the concept.
        """
        lengths = (tokens != PAD).sum(1)
        bos = torch.full_like(tokens[:, :1], BOS)
        dropped = (torch.rand(tokens.shape, device=tokens.device) < input_dropout) & (tokens != PAD)
        inputs = torch.cat([bos, tokens.masked_fill(dropped, UNK)], 1)
        targets = torch.cat([tokens, torch.full_like(bos, PAD)], 1)
        targets[torch.arange(len(tokens)), lengths] = EOS
        logits = self.decode_step(inputs, self.memory(concepts), langs)
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=PAD)

    def bag_of_words_loss(self, concepts: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Predict the sentence's tokens from the concept alone (training only)."""
        words = F.linear(self.concept_to_words(concepts), self.tok_emb.weight)
        return -words.log_softmax(-1).gather(1, tokens)[tokens != PAD].mean()

    def forward(
        self,
        tokens: torch.Tensor,
        input_dropout: float = 0.0,
        bow_weight: float = 0.0,
        langs: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Auto-encoding loss of tokens [B, T] in `langs` [B] (default: the first
        language), plus `bow_weight` times the bag-of-words loss of the concept."""
        if langs is None:
            langs = torch.zeros(len(tokens), dtype=torch.long, device=tokens.device)
        concepts = self.encode(tokens)
        loss = self.writing_loss(concepts, tokens, langs, input_dropout)
        if bow_weight:
            loss = loss + bow_weight * self.bag_of_words_loss(concepts, tokens)
        return loss

    def new_caches(self) -> list[dict]:
        return [{"self": {}, "cross": {}} for _ in self.decoder]

    @torch.inference_mode()
    def generate(
        self, concepts: torch.Tensor, lang: int = 0, beam_size: int = 1, max_tokens=None
    ) -> list:
        """Greedy (beam_size=1) or beam-search decoding in language `lang` (an index into
        cfg.languages) -> token id lists without BOS/EOS."""
        max_tokens = min(max_tokens or self.cfg.max_tokens, self.cfg.max_tokens)
        b, k = concepts.shape[0], beam_size
        memory = self.memory(concepts).repeat_interleave(k, 0)
        langs = torch.full((b * k,), lang, dtype=torch.long, device=concepts.device)
        caches = self.new_caches()
        seqs = torch.full((b * k, 1), BOS, dtype=torch.long, device=concepts.device)
        # only the first beam of each sentence is live at the start
        scores = torch.full((b, k), float("-inf"), device=concepts.device)
        scores[:, 0] = 0.0
        scores = scores.flatten()
        done = torch.zeros(b * k, dtype=torch.bool, device=concepts.device)
        for t in range(max_tokens + 1):
            logp = self.decode_step(seqs[:, -1:], memory, langs, t, caches)[:, -1].log_softmax(-1)
            logp[:, [PAD, BOS, NUL]] = float("-inf")  # never written inside a sentence
            _block_repeats(logp, seqs, self.cfg.no_repeat_ngram)
            if t == max_tokens:  # force an end
                logp = torch.full_like(logp, float("-inf"))
                logp[:, EOS] = 0.0
            logp[done] = float("-inf")
            logp[done, PAD] = 0.0  # finished hypotheses keep their score
            cand = (scores[:, None] + logp).view(b, k * logp.shape[-1])
            top, idx = cand.topk(k, dim=-1)
            beam = idx // logp.shape[-1] + torch.arange(b, device=idx.device)[:, None] * k
            beam, token = beam.flatten(), (idx % logp.shape[-1]).flatten()
            scores = top.flatten()
            seqs = torch.cat([seqs[beam], token[:, None]], 1)
            done = done[beam] | (token == EOS)
            for cache in caches:
                for key in ("k", "v"):
                    cache["self"][key] = cache["self"][key][beam]
            if done.view(b, k)[:, 0].all():
                break
        best = seqs.view(b, k, -1)[:, 0, 1:].tolist()
        return [[i for i in s if i not in (EOS, PAD)][:max_tokens] for s in best]


def _block_repeats(logp: torch.Tensor, seqs: torch.Tensor, n: int) -> None:
    """Forbid, in each row of `logp`, every token that would end an n-gram its sequence
    already holds: wherever the last n-1 tokens occurred before, the token that followed."""
    if n <= 0 or seqs.shape[1] < n:
        return
    grams = seqs.unfold(1, n - 1, 1)  # [rows, windows, n-1]
    seen = (grams[:, :-1] == grams[:, -1:]).all(-1)  # earlier windows equal to the last one
    rows, starts = seen.nonzero(as_tuple=True)
    logp[rows, seqs[rows, starts + n - 1]] = float("-inf")


class DemoCodec:
    """ConceptCodec over a trained DemoAutoencoder and its SentencePiece tokenizer."""

    name = "demo"

    def __init__(
        self,
        model: DemoAutoencoder,
        tokenizer: spm.SentencePieceProcessor,
        compute_dtype: torch.dtype = torch.float32,
    ) -> None:
        """`compute_dtype` bfloat16 runs the matrix products in bf16 autocast (weights and
        outputs stay fp32): on a CPU with bf16 matrix units this encodes about twice as
        fast, each concept within cosine 0.99999 of the fp32 one."""
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.dim = model.cfg.dim
        self.languages = model.cfg.languages
        self.compute_dtype = compute_dtype

    def _autocast(self) -> torch.autocast:
        return torch.autocast(
            self.device.type, self.compute_dtype, enabled=self.compute_dtype != torch.float32
        )

    @property
    def device(self) -> torch.device:
        return self.model.tok_emb.weight.device

    def _lang_index(self, lang: str) -> int:
        if lang not in self.languages:
            raise UnsupportedLanguageError(
                f"The demo codec reads and writes {', '.join(self.languages)}, not {lang!r}. "
                "Other languages need the SONAR codec: start with `--codec sonar` on a GPU "
                "machine."
            )
        return self.languages.index(lang)

    def tokenize(self, sentences: list[str]) -> torch.Tensor:
        """Sentences -> PAD-padded token ids [N, T], truncated to max_tokens."""
        ids = [(self.tokenizer.encode(s) or [UNK])[: self.model.cfg.max_tokens] for s in sentences]
        out = torch.full((len(ids), max(map(len, ids), default=1)), PAD, dtype=torch.long)
        for i, row in enumerate(ids):
            out[i, : len(row)] = torch.tensor(row)
        return out

    @torch.inference_mode()
    def encode(self, sentences: list[str], lang: str = LANG, batch_size: int = 64) -> torch.Tensor:
        self._lang_index(lang)  # the encoder reads every language alike
        if isinstance(sentences, str):
            raise CodecError("encode() takes a list of sentences, not a single string.")
        out = torch.zeros(len(sentences), self.dim)
        order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            tokens = self.tokenize([sentences[i] for i in idx]).to(self.device)
            with self._autocast():
                out[idx] = self.model.encode(tokens).float().cpu()
        return out

    @torch.inference_mode()
    def decode(
        self,
        embeddings: torch.Tensor,
        lang: str = LANG,
        beam_size: int = 1,
        max_len: int | None = None,
        batch_size: int = 64,
    ) -> list[str]:
        """`beam_size` and `max_len` (tokens) mean what they mean for the SONAR codec."""
        lang_index = self._lang_index(lang)
        emb = torch.as_tensor(embeddings)
        if emb.dim() != 2 or emb.shape[1] != self.dim:
            raise CodecError(
                f"decode() expects embeddings of shape [N, {self.dim}], got {tuple(emb.shape)}."
            )
        dtype = self.model.tok_emb.weight.dtype
        texts: list[str] = []
        for start in range(0, len(emb), batch_size):
            chunk = emb[start : start + batch_size].to(self.device, dtype)
            with self._autocast():
                ids = self.model.generate(
                    chunk, lang_index, beam_size=beam_size, max_tokens=max_len
                )
            texts.extend(self.tokenizer.decode(row) for row in ids)
        return texts

    def save_pretrained(self, path: str | Path, dtype: torch.dtype = torch.float16) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / "config.json").write_text(json.dumps(asdict(self.model.cfg), indent=2) + "\n")
        state = {k: v.detach().to(dtype).contiguous() for k, v in self.model.state_dict().items()}
        save_file(state, path / "model.safetensors", metadata={"codec_type": CODEC_TYPE})
        (path / "tokenizer.model").write_bytes(self.tokenizer.serialized_model_proto())

    @classmethod
    def from_pretrained(
        cls, path: str | Path, device: str | None = None, compute_dtype: torch.dtype | None = None
    ) -> DemoCodec:
        path = Path(path)
        missing = [
            n
            for n in ("config.json", "model.safetensors", "tokenizer.model")
            if not (path / n).exists()
        ]
        if missing:
            raise CodecUnavailableError(
                f"{path} is not a demo codec checkpoint (missing {', '.join(missing)}). "
                "Rebuild it with `lcm-writer demo-assets`."
            )
        cfg = load_config(path)
        device = default_device(device)
        model = DemoAutoencoder(cfg)
        state = {k: v.float() for k, v in load_file(path / "model.safetensors").items()}
        # A checkpoint from before the language embedding writes its one language.
        state.setdefault("lang_emb.weight", torch.zeros_like(model.lang_emb.weight))
        model.load_state_dict(state)
        tokenizer = spm.SentencePieceProcessor(model_file=str(path / "tokenizer.model"))
        return cls(model.to(device), tokenizer, compute_dtype or torch.float32)


def is_demo_checkpoint(path: str | Path) -> bool:
    """True when `path` holds a demo codec (config.json with "codec_type": "demo")."""
    config = Path(path) / "config.json"
    try:
        return json.loads(config.read_text()).get("codec_type") == CODEC_TYPE
    except (OSError, ValueError):
        return False


def load_config(path: str | Path) -> DemoCodecConfig:
    raw = json.loads((Path(path) / "config.json").read_text())
    if raw.get("codec_type") != CODEC_TYPE:
        raise CodecError(f"{path}/config.json is not a demo codec config (no codec_type 'demo').")
    raw.setdefault("languages", [LANG])  # written before codecs had more than one
    known = {f.name for f in fields(DemoCodecConfig)}
    return DemoCodecConfig(**{k: v for k, v in raw.items() if k in known})


def train_tokenizer(
    sentence_files: str | Path | list[Path], model_prefix: str | Path, vocab_size: int
) -> Path:
    """Train the codec's SentencePiece model (ids: PAD=0, UNK=1, BOS=2, EOS=3, then the
    byte pieces from NUL=4) on a shuffled sample of the lines of one or more files."""
    files = sentence_files if isinstance(sentence_files, list) else [sentence_files]
    spm.SentencePieceTrainer.train(
        input=",".join(map(str, files)),
        model_prefix=str(model_prefix),
        vocab_size=vocab_size,
        model_type="unigram",
        byte_fallback=True,
        pad_id=PAD,
        unk_id=UNK,
        bos_id=BOS,
        eos_id=EOS,
        input_sentence_size=300_000,
        character_coverage=0.9999,
        shuffle_input_sentence=True,
        hard_vocab_limit=False,  # a small corpus may hold fewer pieces
        minloglevel=2,
    )
    return Path(f"{model_prefix}.model")
