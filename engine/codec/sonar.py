"""SONAR (sonar-space 0.5.0 on fairseq2 0.8.1) as a ConceptCodec: 1024-d concepts, 202 languages.

The encoder (766M parameters) and decoder (867M) are loaded lazily, each on first use,
through sonar-space's own inference pipelines; fairseq2 and sonar are imported only
then, so `import engine.codec` stays fast. On CUDA they run in bf16 (fp16 on older
cards), on a CPU in fp32 (slow: seconds per sentence; the CPU default is the demo codec).

Where the weights come from (nothing is downloaded behind your back when offline):

1. fairseq2's cache. `python -m engine.codec.sonar` (needs network) downloads the files
   named in sonar's asset cards (text_sonar_basic_encoder, text_sonar_basic_decoder,
   text_sonar_finetuned_decoder; about 6.5 GB) into `$FAIRSEQ2_CACHE_DIR` (default
   ~/.cache/fairseq2/assets); `load_codec("sonar")` then finds them there. The cache
   directory can be copied to an offline machine as is.
2. A directory you downloaded yourself: `load_codec("/models/sonar")` where the directory
   holds the files under their published names, from https://dl.fbaipublicfiles.com/SONAR/ :
   sonar_text_encoder.pt, sonar_text_decoder.pt (or finetuned_decoder.pt) and
   sentencepiece.source.256000.model.
3. fairseq2 user asset cards. A YAML file in `$FAIRSEQ2_USER_ASSET_DIR` (default
   ~/.config/fairseq2/assets) overrides the packaged cards for `load_codec("sonar")`:

       name: text_sonar_basic_encoder@user
       checkpoint: file:///models/sonar/sonar_text_encoder.pt
       tokenizer: file:///models/sonar/sentencepiece.source.256000.model
       ---
       name: text_sonar_basic_decoder@user
       checkpoint: file:///models/sonar/sonar_text_decoder.pt
       tokenizer: file:///models/sonar/sentencepiece.source.256000.model

   The same YAML may instead sit in any directory passed to `load_codec(dir)` (relative
   paths then resolve against that directory).

Before loading anything `from_cards` checks that every checkpoint and tokenizer is on
disk and raises `CodecUnavailableError` naming the missing files and these three ways
to provide them, instead of letting fairseq2 wait on a network that is not there.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from functools import cached_property
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import torch

from engine.codec.base import (
    CodecError,
    CodecUnavailableError,
    SentenceTooLongError,
    UnsupportedLanguageError,
    default_device_dtype,
)

ENCODER_CARD = "text_sonar_basic_encoder"
DECODER_CARD = "text_sonar_basic_decoder"
FINETUNED_DECODER_CARD = "text_sonar_finetuned_decoder"
# Published file names (https://dl.fbaipublicfiles.com/SONAR/<name>) for directory loading.
CHECKPOINT_FILES = {
    ENCODER_CARD: "sonar_text_encoder.pt",
    DECODER_CARD: "sonar_text_decoder.pt",
    FINETUNED_DECODER_CARD: "finetuned_decoder.pt",
}
TOKENIZER_FILE = "sentencepiece.source.256000.model"

T = TypeVar("T")


@dataclass(frozen=True)
class Deferred(Generic[T]):
    """A part built on first use: the full decoder alone takes minutes and many GB to load."""

    load: Callable[[], T]


@dataclass(frozen=True)
class DecodeOptions:
    """Keyword options of `SonarCodec.decode`."""

    beam_size: int = 5
    max_len: int = 128  # generated tokens per sentence
    temperature: float = 0.0  # 0: beam search (deterministic); > 0: top-p sampling
    top_p: float = 0.9  # nucleus size when sampling
    no_repeat_ngram_size: int = 0  # block repeated n-grams of this size (0: off)
    seed: int | None = None  # makes sampling repeatable

    def __post_init__(self) -> None:
        if self.beam_size < 1 or self.max_len < 1:
            raise CodecError("decode(): beam_size and max_len must be at least 1.")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise CodecError("decode(): temperature must be >= 0 and top_p in (0, 1].")
        if self.no_repeat_ngram_size < 0:
            raise CodecError("decode(): no_repeat_ngram_size must be >= 0.")


class SonarCodec:
    """ConceptCodec over a SONAR text encoder, decoder and NLLB tokenizer.

    Built by `from_cards` / `from_directory` for real weights, or directly from model
    objects (e.g. tiny random models in tests); every path runs the same code.
    """

    def __init__(
        self,
        encoder: torch.nn.Module | Deferred[torch.nn.Module],
        decoder: torch.nn.Module | Deferred[torch.nn.Module],
        tokenizer: Any,  # a fairseq2 NLLB Tokenizer, or Deferred of one
        *,
        dim: int = 1024,
        languages: Sequence[str] | None = None,
        name: str = "sonar",
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        max_tokens_per_batch: int = 8192,
        decode_batch_size: int = 16,
        on_overlong: Literal["warn", "error"] = "warn",
    ) -> None:
        if languages is None:
            from engine.lang import languages as sonar_languages

            languages = tuple(sonar_languages())
        self.name = name
        self.dim = dim
        self.languages = tuple(languages)
        self.device, self.dtype = default_device_dtype(device, dtype)
        self.max_tokens_per_batch = max_tokens_per_batch
        self.decode_batch_size = decode_batch_size
        self.on_overlong = on_overlong
        self._parts = {"encoder": encoder, "decoder": decoder, "tokenizer": tokenizer}

    # -- loading ---------------------------------------------------------------------

    @classmethod
    def from_cards(
        cls,
        encoder_card: Any = ENCODER_CARD,
        decoder_card: Any = DECODER_CARD,
        *,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        name: str = "sonar",
        **kwargs: Any,
    ) -> SonarCodec:
        """SONAR from fairseq2 asset cards (names or AssetCard objects); checks files first."""
        try:
            from fairseq2.assets import AssetNotFoundError, get_asset_store
            from fairseq2.data.tokenizers import load_tokenizer
            from sonar.models.sonar_text import (
                get_sonar_text_decoder_hub,
                get_sonar_text_encoder_hub,
            )
        except (ImportError, OSError) as ex:  # OSError: fairseq2n needs libsndfile
            raise CodecUnavailableError(
                f"SONAR's packages cannot be imported ({ex}). They need fairseq2 0.8.1, "
                "sonar-space 0.5.0 and the system library libsndfile1 (`make venv` installs them)."
            ) from ex

        store = get_asset_store()
        try:
            cards = [
                store.retrieve_card(c) if isinstance(c, str) else c
                for c in (encoder_card, decoder_card)
            ]
        except AssetNotFoundError as ex:
            raise CodecUnavailableError(
                f"fairseq2 has no asset card named {ex.name!r}; is sonar-space 0.5.0 installed?"
            ) from None
        missing = [m for card in cards for m in _missing_assets(card)]
        if missing:
            raise CodecUnavailableError(_missing_message(missing))
        enc_card, dec_card = cards
        device, dtype = default_device_dtype(device, dtype)
        enc_hub, dec_hub = get_sonar_text_encoder_hub(), get_sonar_text_decoder_hub()
        enc_cfg = enc_hub.get_model_config(enc_card)
        return cls(
            Deferred(lambda: _load(enc_card, enc_hub.load_model, device=device, dtype=dtype)),
            Deferred(lambda: _load(dec_card, dec_hub.load_model, device=device, dtype=dtype)),
            Deferred(lambda: _load(enc_card, load_tokenizer)),
            dim=enc_cfg.embedding_dim or enc_cfg.model_dim,
            name=name,
            device=device,
            dtype=dtype,
            **kwargs,
        )

    @classmethod
    def from_directory(cls, path: str | Path, **kwargs: Any) -> SonarCodec:
        """SONAR from a directory of downloaded files or of YAML asset cards (see above)."""
        return cls.from_cards(*_cards_in_directory(Path(path)), name=f"sonar:{path}", **kwargs)

    def _part(self, key: str) -> Any:
        part = self._parts[key]
        if isinstance(part, Deferred):
            part = self._parts[key] = part.load()
        return part

    @property
    def tokenizer(self) -> Any:
        return self._part("tokenizer")

    @cached_property
    def _encoder_pipeline(self) -> Any:
        from sonar.inference_pipelines.text import TextToEmbeddingModelPipeline

        model = self._part("encoder").to(self.device, self.dtype)
        return TextToEmbeddingModelPipeline(model, self.tokenizer, self.device, self.dtype)

    @cached_property
    def _decoder_pipeline(self) -> Any:
        from sonar.inference_pipelines.text import EmbeddingToTextModelPipeline

        model = self._part("decoder").to(self.device, self.dtype)
        return EmbeddingToTextModelPipeline(model, self.tokenizer, self.device, self.dtype)

    # -- the codec -------------------------------------------------------------------

    def check_language(self, lang: str) -> None:
        if lang not in self.languages:
            close = difflib.get_close_matches(lang, self.languages, n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise UnsupportedLanguageError(
                f"{self.name} does not support language {lang!r}; it takes SONAR codes such "
                f"as 'eng_Latn' ({len(self.languages)} languages, see codec.languages).{hint}"
            )

    def encode(self, sentences: list[str], lang: str = "eng_Latn") -> torch.Tensor:
        """float32 CPU embeddings [N, dim], in input order.

        Sentences are sorted by length and batched so that no batch holds more than
        `max_tokens_per_batch` tokens (a batch of one may, if its sentence is that long).
        """
        if isinstance(sentences, str):
            raise CodecError("encode() takes a list of sentences, not a single string.")
        sentences = list(sentences)
        self.check_language(lang)
        if not sentences:
            return torch.empty(0, self.dim)
        pipeline = self._encoder_pipeline
        max_len = _max_seq_len(pipeline.model.encoder_frontend, pipeline.model.encoder)
        self._check_lengths(sentences, lang, max_len)
        with warnings.catch_warnings():
            # Overlong inputs were already reported above, with their positions.
            warnings.filterwarnings("ignore", message=".*length was truncated.*")
            emb = pipeline.predict(
                sentences,
                source_lang=lang,
                batch_size=None,
                # fairseq2 closes a batch once it *reaches* the threshold, so leave room
                # for one more sentence to keep every batch within the budget
                batch_max_tokens=max(1, self.max_tokens_per_batch - max_len + 1),
                max_seq_len=max_len,
            )
        if emb.shape != (len(sentences), self.dim):
            raise CodecError(
                f"{self.name}: the encoder returned shape {tuple(emb.shape)}, expected "
                f"({len(sentences)}, {self.dim}); the codec's dim does not match its weights."
            )
        return emb.float().cpu()

    def _check_lengths(self, sentences: list[str], lang: str, max_len: int) -> None:
        """Report sentences the encoder would truncate (SONAR itself only warns in bulk)."""
        encode_tokens = self.tokenizer.create_encoder(lang=lang, mode="source")
        too_long = [
            (i, n) for i, s in enumerate(sentences) if (n := len(encode_tokens(s))) > max_len
        ]
        if not too_long:
            return
        where = ", ".join(f"#{i} ({n} tokens)" for i, n in too_long[:5])
        more = f" and {len(too_long) - 5} more" if len(too_long) > 5 else ""
        msg = (
            f"{len(too_long)} sentence(s) exceed the SONAR encoder's {max_len}-token limit: "
            f"{where}{more}. Split them first, e.g. engine.segment.split_sentences(text, "
            "max_chars=200); SONAR round-trips badly past ~250 characters."
        )
        if self.on_overlong == "error":
            raise SentenceTooLongError(msg)
        warnings.warn(f"{msg} Only their first {max_len} tokens are encoded.", stacklevel=3)

    def decode(self, embeddings: torch.Tensor, lang: str = "eng_Latn", **options: Any) -> list[str]:
        """One sentence per row, in `lang`. Options: see `DecodeOptions`."""
        opts = _decode_options(options)
        self.check_language(lang)
        emb = torch.as_tensor(embeddings)
        if emb.dim() != 2 or emb.shape[1] != self.dim:
            raise CodecError(
                f"decode() expects embeddings of shape [N, {self.dim}], got {tuple(emb.shape)}."
            )
        if len(emb) == 0:
            return []
        from fairseq2.generation.sampling import TopPSampler
        from fairseq2.generation.step_processor import NGramRepeatBlockProcessor

        pipeline = self._decoder_pipeline
        # The decoder has no source length to scale with: the limit is max_len, absolute.
        kwargs: dict[str, Any] = {"max_gen_len": (0.0, opts.max_len)}
        if opts.no_repeat_ngram_size:
            kwargs["step_processors"] = [NGramRepeatBlockProcessor(opts.no_repeat_ngram_size)]
        emb = emb.to(self.device, pipeline.model.dtype)
        if opts.temperature == 0:
            return pipeline.predict(
                emb, lang, batch_size=self.decode_batch_size, beam_size=opts.beam_size, **kwargs
            )
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices, enabled=opts.seed is not None):
            if opts.seed is not None:
                torch.manual_seed(opts.seed)
            return pipeline.predict(
                emb,
                lang,
                batch_size=self.decode_batch_size,
                sampler=TopPSampler(opts.top_p),
                temperature=opts.temperature,
                **kwargs,
            )


def _decode_options(options: dict[str, Any]) -> DecodeOptions:
    known = {f.name for f in fields(DecodeOptions)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise CodecError(
            f"Unknown decode option(s) {', '.join(unknown)}; the SONAR codec takes "
            f"{', '.join(sorted(known))}."
        )
    return DecodeOptions(**options)


def _max_seq_len(frontend: Any, stack: Any) -> int:
    """Longest token sequence a SONAR model accepts (where sonar's pipelines read it)."""
    pos = frontend.pos_encoder or stack.layers[0].self_attn.pos_encoder
    return int(pos.max_seq_len)


def _load(card: Any, load: Callable[..., T], **kwargs: Any) -> T:
    """`load(card, **kwargs)`, with fairseq2's failures turned into one error the UI can show."""
    try:
        return load(card, **kwargs)
    except torch.OutOfMemoryError as ex:
        raise CodecUnavailableError(
            f"Out of memory while loading {card.name}; free memory, or use a GPU in bf16."
        ) from ex
    except Exception as ex:  # fairseq2 raises many unrelated types (asset, gang, I/O)
        raise CodecUnavailableError(f"Could not load {card.name}: {ex}") from ex


def _missing_assets(card: Any) -> list[str]:
    """'<card> <field> (<where>)' for each checkpoint/tokenizer that is not on disk.

    Asks fairseq2's download manager with local_only=True, so no network is touched.
    """
    from fairseq2.assets import AssetDownloadError, get_asset_download_manager

    manager = get_asset_download_manager()
    missing = []
    for field, fetch in (
        ("checkpoint", manager.download_model),
        ("tokenizer", manager.download_tokenizer),
    ):
        if not card.has_field(field):
            missing.append(f"{card.name} {field} (the card names none)")
            continue
        uri = card.field(field).as_uri()
        if uri.scheme == "file":
            if not uri.to_path().exists():
                missing.append(f"{card.name} {field} ({uri.to_path()})")
        elif uri.scheme in ("http", "https"):
            try:
                fetch(uri, local_only=True)
            except AssetDownloadError:
                missing.append(f"{card.name} {field} ({uri})")
    return missing


def _missing_message(missing: list[str]) -> str:
    from fairseq2.assets import AssetDirectoryAccessor
    from fairseq2.runtime.dependency import get_dependency_resolver

    cache = get_dependency_resolver().resolve(AssetDirectoryAccessor).get_cache_dir()
    return (
        f"SONAR weights are not on this machine (missing: {'; '.join(missing)}; fairseq2's "
        f"cache is {cache}, set by FAIRSEQ2_CACHE_DIR). To get them, run "
        "`python -m engine.codec.sonar` where there is network (about 6.5 GB into that "
        f"cache), or download {', '.join(CHECKPOINT_FILES.values())} and {TOKENIZER_FILE} "
        "from https://dl.fbaipublicfiles.com/SONAR/ into one directory and use that "
        "directory as the codec (--codec DIR or LCMW_CODEC=DIR). See engine/codec/sonar.py."
    )


def download(cards: Sequence[str] = (ENCODER_CARD, DECODER_CARD, FINETUNED_DECODER_CARD)) -> None:
    """Download the SONAR checkpoints and tokenizer into fairseq2's cache (needs network)."""
    from fairseq2.assets import get_asset_download_manager, get_asset_store

    manager, store = get_asset_download_manager(), get_asset_store()
    for name in cards:
        card = store.retrieve_card(name)
        print(manager.download_model(card.field("checkpoint").as_uri()))
        print(manager.download_tokenizer(card.field("tokenizer").as_uri()))


def is_sonar_directory(path: str | Path) -> bool:
    """True when `path` looks like downloaded SONAR weights or SONAR asset cards."""
    path = Path(path)
    if (path / TOKENIZER_FILE).is_file() and (path / CHECKPOINT_FILES[ENCODER_CARD]).is_file():
        return True
    return any("text_sonar" in p.read_text(errors="ignore") for p in _yaml_files(path))


def _yaml_files(path: Path) -> list[Path]:
    return sorted(p for p in path.glob("*.y*ml") if p.is_file())


def _cards_in_directory(path: Path) -> tuple[Any, Any]:
    """(encoder card, decoder card) for a directory, based on sonar's packaged cards."""
    import yaml
    from fairseq2.assets import AssetCard, get_asset_store

    store = get_asset_store()

    def card(name: str, metadata: dict[str, Any]) -> Any:
        base_name = name.split("@")[0]
        base = store.maybe_retrieve_card(base_name)
        return AssetCard(base_name, {**metadata, "__base_path__": path}, base)

    found = {}
    for file in _yaml_files(path):
        for doc in yaml.safe_load_all(file.read_text()):
            if isinstance(doc, dict) and "text_sonar" in str(doc.get("name", "")):
                found[str(doc["name"]).split("@")[0]] = card(str(doc["name"]), doc)
    for card_name, filename in CHECKPOINT_FILES.items():
        if card_name not in found and (path / filename).is_file():
            files = {"checkpoint": str(path / filename), "tokenizer": str(path / TOKENIZER_FILE)}
            found[card_name] = card(card_name, files)
    encoder = found.get(ENCODER_CARD)
    decoder = found.get(DECODER_CARD) or found.get(FINETUNED_DECODER_CARD)
    if encoder is None or decoder is None:
        raise CodecUnavailableError(
            f"{path} holds no complete SONAR text encoder + decoder: expected "
            f"{CHECKPOINT_FILES[ENCODER_CARD]}, {CHECKPOINT_FILES[DECODER_CARD]} (or "
            f"{CHECKPOINT_FILES[FINETUNED_DECODER_CARD]}) and {TOKENIZER_FILE}, or YAML asset "
            f"cards named {ENCODER_CARD} and {DECODER_CARD} (see engine/codec/sonar.py)."
        )
    return encoder, decoder


if __name__ == "__main__":
    download()
