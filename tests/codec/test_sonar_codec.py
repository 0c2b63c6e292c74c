"""SonarCodec on a tiny random-weight SONAR: the same class and pipelines as the real weights."""

import warnings

import pytest
import torch

from engine.codec import (
    CodecError,
    ConceptCodec,
    SentenceTooLongError,
    UnsupportedLanguageError,
)
from engine.codec.sonar import Deferred, SonarCodec
from tests.codec.tiny_sonar import TINY_LANGS, build_tiny_sonar, build_tiny_sonar_parts

SENTENCES = [
    "A concept is one sentence.",
    "Hi.",
    "The quick brown fox jumps over the lazy dog.",
    "",
    "Une phrase devient un point.",
    "Каждое предложение становится одним вектором.",
]


def record_inputs(module: torch.nn.Module) -> tuple[list[torch.Tensor], object]:
    """Token id tensors passed to `module` (a SONAR frontend), call by call."""
    seen: list[torch.Tensor] = []
    handle = module.register_forward_hook(lambda _m, args, _out: seen.append(args[0].clone()))
    return seen, handle


def token_id(codec: SonarCodec, lang: str) -> int:
    return int(codec.tokenizer.create_encoder(lang=lang, mode="source").prefix_indices[0])


def test_is_a_concept_codec(tiny_sonar):
    assert isinstance(tiny_sonar, ConceptCodec)
    assert tiny_sonar.dim == 32
    assert tiny_sonar.languages == TINY_LANGS


def test_encode_shape_dtype_and_input_order(tiny_sonar):
    emb = tiny_sonar.encode(SENTENCES, lang="eng_Latn")
    assert emb.shape == (len(SENTENCES), 32)
    assert emb.dtype == torch.float32 and emb.device.type == "cpu"
    # the pipeline sorts by length internally; rows must still follow the input
    one_by_one = torch.cat([tiny_sonar.encode([s], lang="eng_Latn") for s in SENTENCES])
    torch.testing.assert_close(emb, one_by_one, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(emb[0], emb[1])


def test_token_budget_batching_changes_batches_not_results(tiny_sonar):
    frontend = tiny_sonar._encoder_pipeline.model.encoder_frontend
    pad = tiny_sonar.tokenizer.vocab_info.pad_idx
    seen_big, handle = record_inputs(frontend)
    big = tiny_sonar.encode(SENTENCES)
    handle.remove()
    tiny_sonar.max_tokens_per_batch = 40
    try:
        seen, handle = record_inputs(frontend)
        small = tiny_sonar.encode(SENTENCES * 4)
        handle.remove()
    finally:
        tiny_sonar.max_tokens_per_batch = 8192
    assert len(seen_big) == 1 and len(seen) > 1
    assert all(b.shape[0] == 1 or (b != pad).sum() <= 40 for b in seen)
    assert sum(b.shape[0] for b in seen) == len(SENTENCES) * 4
    torch.testing.assert_close(small[: len(SENTENCES)], big, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(small[-len(SENTENCES) :], big, atol=1e-5, rtol=1e-4)


def test_source_language_tag_reaches_the_encoder(tiny_sonar):
    frontend = tiny_sonar._encoder_pipeline.model.encoder_frontend
    seen, handle = record_inputs(frontend)
    fra = tiny_sonar.encode(["Bonjour le monde."], lang="fra_Latn")
    handle.remove()
    assert seen[0][0, 0].item() == token_id(tiny_sonar, "fra_Latn")
    eng = tiny_sonar.encode(["Bonjour le monde."], lang="eng_Latn")
    assert not torch.allclose(fra, eng)


def test_target_language_tag_reaches_the_decoder(tiny_sonar):
    emb = tiny_sonar.encode(SENTENCES[:2])
    frontend = tiny_sonar._decoder_pipeline.model.decoder.decoder_frontend
    for lang in ("deu_Latn", "zho_Hans"):
        seen, handle = record_inputs(frontend)
        texts = tiny_sonar.decode(emb, lang=lang, beam_size=1, max_len=4)
        handle.remove()
        assert len(texts) == 2 and all(isinstance(t, str) for t in texts)
        prefix = torch.cat([batch[0] for batch in seen])[:2].tolist()  # </s> __lang__
        assert prefix == [tiny_sonar.tokenizer.vocab_info.eos_idx, token_id(tiny_sonar, lang)]


def test_decode_is_deterministic_and_bounded_by_max_len(tiny_sonar):
    emb = tiny_sonar.encode(SENTENCES)
    first = tiny_sonar.decode(emb, lang="fra_Latn", beam_size=2, max_len=8)
    assert first == tiny_sonar.decode(emb, lang="fra_Latn", beam_size=2, max_len=8)
    assert len(first) == len(SENTENCES)
    frontend = tiny_sonar._decoder_pipeline.model.decoder.decoder_frontend
    seen, handle = record_inputs(frontend)
    tiny_sonar.decode(emb[:1], lang="fra_Latn", beam_size=1, max_len=3)
    handle.remove()
    generated_steps = sum(batch.shape[1] for batch in seen) - 2  # minus the 2-token prefix
    assert generated_steps <= 3


def test_sampling_with_temperature_is_seeded(tiny_sonar):
    emb = tiny_sonar.encode(SENTENCES)
    a = tiny_sonar.decode(emb, temperature=1.0, seed=1, max_len=12)
    assert a == tiny_sonar.decode(emb, temperature=1.0, seed=1, max_len=12)
    assert a != tiny_sonar.decode(emb, temperature=1.0, seed=2, max_len=12)


def test_no_repeat_ngram_blocking(tiny_sonar):
    emb = tiny_sonar.encode(["Hi."])
    frontend = tiny_sonar._decoder_pipeline.model.decoder.decoder_frontend

    def generated(**options) -> list[int]:
        seen, handle = record_inputs(frontend)
        tiny_sonar.decode(emb, beam_size=1, max_len=20, **options)
        handle.remove()
        return [t for batch in seen for t in batch[0].tolist()][2:]

    free = generated()
    assert len(set(free)) < len(free)  # this random model repeats itself...
    blocked = generated(no_repeat_ngram_size=1)
    assert len(set(blocked)) == len(blocked)  # ...unless repeats are blocked


def test_decode_casts_embeddings_to_the_decoder_dtype(tmp_path):
    codec = build_tiny_sonar(tmp_path, dtype=torch.bfloat16)
    emb = codec.encode(["A concept is one sentence.", "Hi."])
    assert emb.dtype == torch.float32  # always float32 out, whatever the model dtype
    assert codec._decoder_pipeline.model.dtype == torch.bfloat16
    assert len(codec.decode(emb.double(), beam_size=1, max_len=4)) == 2


def test_parts_load_lazily_and_once(tmp_path):
    encoder, decoder, tokenizer = build_tiny_sonar_parts(tmp_path)
    loads = []

    def loader(name, part):
        return Deferred(lambda: loads.append(name) or part)

    codec = SonarCodec(
        loader("encoder", encoder),
        loader("decoder", decoder),
        loader("tokenizer", tokenizer),
        dim=32,
        languages=TINY_LANGS,
        device="cpu",
    )
    assert loads == []
    emb = codec.encode(["Hi.", "Hello there."])
    assert sorted(loads) == ["encoder", "tokenizer"]
    codec.decode(emb, beam_size=1, max_len=4)
    codec.encode(["Again."])
    assert sorted(loads) == ["decoder", "encoder", "tokenizer"]


def test_overlong_sentences_warn_with_their_position(tiny_sonar):
    long = " ".join(["concept"] * 100)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        emb = tiny_sonar.encode(["Short.", long], lang="eng_Latn")
    assert emb.shape == (2, 32)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1, messages
    assert "#1 (" in messages[0] and "64-token limit" in messages[0]
    assert "split_sentences" in messages[0]


def test_overlong_sentences_can_be_refused(tmp_path):
    codec = build_tiny_sonar(tmp_path, on_overlong="error")
    with pytest.raises(SentenceTooLongError, match="#0"):
        codec.encode([" ".join(["concept"] * 100)])


@pytest.mark.parametrize("lang", ["ita_Latn", "english", "eng_latn"])
def test_unknown_languages_are_refused(tiny_sonar, lang):
    emb = torch.zeros(1, 32)
    with pytest.raises(UnsupportedLanguageError, match="SONAR codes"):
        tiny_sonar.encode(["Hi."], lang=lang)
    with pytest.raises(UnsupportedLanguageError, match=repr(lang)):
        tiny_sonar.decode(emb, lang=lang)


def test_suggests_the_closest_language_code(tiny_sonar):
    with pytest.raises(UnsupportedLanguageError, match="Did you mean eng_Latn"):
        tiny_sonar.encode(["Hi."], lang="eng_latn")


def test_bad_inputs_get_clear_errors(tiny_sonar):
    with pytest.raises(CodecError, match="list of sentences"):
        tiny_sonar.encode("Hi.")
    with pytest.raises(CodecError, match=r"shape \[N, 32\]"):
        tiny_sonar.decode(torch.zeros(2, 31))
    with pytest.raises(CodecError, match="beam_size"):
        tiny_sonar.decode(torch.zeros(1, 32), beam_sz=2)
    with pytest.raises(CodecError, match="at least 1"):
        tiny_sonar.decode(torch.zeros(1, 32), max_len=0)


def test_empty_inputs(tiny_sonar):
    assert tiny_sonar.encode([]).shape == (0, 32)
    assert tiny_sonar.decode(torch.zeros(0, 32)) == []
