"""The demo codec: protocol, checkpoint round trip, decoding, errors, bundled weights."""

from __future__ import annotations

import json

import pytest
import sacrebleu
import torch
from safetensors.torch import load_file, save_file

from engine.codec import DEMO_CODEC_DIR, ConceptCodec, load_codec
from engine.codec.base import CodecError, CodecUnavailableError, UnsupportedLanguageError
from engine.codec.demo import BOS, EOS, NUL, PAD, DemoCodec, is_demo_checkpoint
from tests.demo.tiny import TINY_CORPUS, build_tiny_demo_codec, save_tiny_demo_codec

SENTENCES = ["A short one.", TINY_CORPUS[2], "Why?", TINY_CORPUS[10]]


@pytest.fixture(scope="module")
def codec(tmp_path_factory) -> DemoCodec:
    return build_tiny_demo_codec(tmp_path_factory.mktemp("tiny_demo"))


def test_implements_the_codec_protocol(codec):
    assert isinstance(codec, ConceptCodec)
    assert codec.name == "demo" and codec.dim == 32
    assert codec.languages == ("eng_Latn", "fra_Latn", "deu_Latn", "spa_Latn")


def test_encode_shape_dtype_and_order_do_not_depend_on_batching(codec):
    batch = codec.encode(SENTENCES)
    assert batch.shape == (4, 32) and batch.dtype == torch.float32
    one_by_one = torch.cat([codec.encode([s]) for s in SENTENCES])
    torch.testing.assert_close(batch, one_by_one, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(batch[0], batch[1])
    assert codec.encode([]).shape == (0, 32)


def test_decode_returns_one_string_per_row_with_greedy_and_beam(codec):
    emb = codec.encode(SENTENCES)
    for beam in (1, 3):
        texts = codec.decode(emb, beam_size=beam)
        assert len(texts) == 4 and all(isinstance(t, str) for t in texts)


def test_max_len_caps_decoded_tokens_like_the_sonar_option(codec):
    emb = codec.encode(SENTENCES)
    assert max(len(codec.tokenizer.encode(t)) for t in codec.decode(emb)) > 2
    capped = codec.model.generate(emb, max_tokens=2)
    assert all(len(ids) <= 2 for ids in capped)
    assert codec.decode(emb, max_len=2) == [codec.tokenizer.decode(ids) for ids in capped]
    with pytest.raises(TypeError):
        codec.decode(codec.encode(SENTENCES), max_tokens=2)


def test_kv_cached_greedy_decoding_matches_full_recomputation(tmp_path):
    codec = build_tiny_demo_codec(tmp_path, no_repeat_ngram=0)  # the plain argmax
    model, concepts = codec.model, codec.encode(SENTENCES)
    cached = model.generate(concepts, lang=2, max_tokens=8)
    seqs, langs = torch.full((4, 1), BOS), torch.full((4,), 2)
    with torch.inference_mode():
        memory = model.memory(concepts)
        for _ in range(8):
            logits = model.decode_step(seqs, memory, langs)[:, -1]
            logits[:, [PAD, BOS, NUL]] = float("-inf")
            next_token = logits.argmax(-1)
            seqs = torch.cat([seqs, next_token[:, None]], 1)
    for row, ids in zip(seqs[:, 1:].tolist(), cached, strict=True):
        assert ids == (row[: row.index(EOS)] if EOS in row else row)


def repeated_ngrams(ids: list[int], n: int) -> int:
    grams = [tuple(ids[i : i + n]) for i in range(len(ids) - n + 1)]
    return len(grams) - len(set(grams))


def test_decoding_never_writes_a_run_of_no_repeat_ngram_tokens_twice(tmp_path):
    free = build_tiny_demo_codec(tmp_path / "free", no_repeat_ngram=0)
    blocked = build_tiny_demo_codec(tmp_path / "blocked", no_repeat_ngram=3)  # same weights
    concepts = free.encode(SENTENCES)
    looping = free.model.generate(concepts, max_tokens=40)
    assert any(repeated_ngrams(ids, 3) for ids in looping)  # random weights loop
    for beam in (1, 3):
        written = blocked.model.generate(concepts, beam_size=beam, max_tokens=40)
        assert all(repeated_ngrams(ids, 3) == 0 for ids in written)
    greedy = blocked.model.generate(concepts, max_tokens=40)
    for free_ids, blocked_ids in zip(looping, greedy, strict=True):
        if not repeated_ngrams(free_ids, 3):  # nothing to block: the same sentence
            assert blocked_ids == free_ids


def test_decoding_never_writes_a_nul_byte(tmp_path):
    codec = build_tiny_demo_codec(tmp_path)
    model = codec.model
    assert codec.tokenizer.id_to_piece(NUL) == "<0x00>"  # the byte pieces follow the specials
    concepts = codec.encode(SENTENCES)
    with torch.inference_mode():
        start = torch.full((len(SENTENCES), 1), BOS)
        langs = torch.zeros(len(SENTENCES), dtype=torch.long)
        logits = model.decode_step(start, model.memory(concepts), langs, 0, model.new_caches())
    best = logits[0, -1].argmax()
    with torch.no_grad():  # the NUL piece now outscores every other first token of sentence 0
        model.tok_emb.weight[NUL] = 10 * logits[0, -1, best].sign() * model.tok_emb.weight[best]
    assert not any("\x00" in text for text in codec.decode(concepts))


def test_other_languages_are_refused_with_a_hint_to_use_sonar(codec):
    with pytest.raises(UnsupportedLanguageError, match="sonar"):
        codec.encode(["Привет."], lang="rus_Cyrl")
    with pytest.raises(UnsupportedLanguageError, match="SONAR"):
        codec.decode(torch.zeros(1, 32), lang="jpn_Jpan")


def test_the_encoder_reads_every_language_alike_and_the_decoder_writes_the_one_asked(tmp_path):
    codec = build_tiny_demo_codec(tmp_path, seed=3)
    torch.nn.init.normal_(codec.model.lang_emb.weight, std=1.0)  # languages set apart
    english = codec.encode(SENTENCES, lang="eng_Latn")
    torch.testing.assert_close(codec.encode(SENTENCES, lang="spa_Latn"), english)
    with torch.inference_mode():
        memory = codec.model.memory(english)
        first = [
            codec.model.decode_step(torch.full((4, 1), BOS), memory, torch.full((4,), i))[:, -1]
            for i in range(4)
        ]  # the first token's logits, one tensor per language
    assert all(not torch.allclose(first[i], first[j]) for i in range(4) for j in range(i))
    assert codec.decode(english, lang="deu_Latn") == [
        codec.tokenizer.decode(ids) for ids in codec.model.generate(english, lang=2)
    ]


def test_a_codec_saved_before_languages_existed_loads_as_english_only(tmp_path):
    path = save_tiny_demo_codec(tmp_path, seed=1)
    config = json.loads((path / "config.json").read_text())
    del config["languages"]
    (path / "config.json").write_text(json.dumps(config))
    state = load_file(path / "model.safetensors")
    del state["lang_emb.weight"]
    save_file(state, path / "model.safetensors")
    codec = DemoCodec.from_pretrained(path, device="cpu")
    assert codec.languages == ("eng_Latn",)
    assert len(codec.decode(codec.encode(SENTENCES))) == 4
    with pytest.raises(UnsupportedLanguageError, match="eng_Latn, not 'fra_Latn'"):
        codec.decode(codec.encode(SENTENCES), lang="fra_Latn")


def test_bad_inputs_get_specific_errors(codec, tmp_path):
    with pytest.raises(CodecError, match="list of sentences"):
        codec.encode("not a list")
    with pytest.raises(CodecError, match=r"\[N, 32\]"):
        codec.decode(torch.zeros(2, 7))
    with pytest.raises(CodecUnavailableError, match="missing config.json"):
        DemoCodec.from_pretrained(tmp_path)


def test_checkpoint_round_trip_via_load_codec(tmp_path):
    path = save_tiny_demo_codec(tmp_path, seed=1)
    assert is_demo_checkpoint(path) and not is_demo_checkpoint(tmp_path)
    original = build_tiny_demo_codec(tmp_path / "again", seed=1)
    loaded = load_codec(str(path), device="cpu")
    assert isinstance(loaded, DemoCodec)
    torch.testing.assert_close(loaded.encode(SENTENCES), original.encode(SENTENCES))
    assert loaded.decode(loaded.encode(SENTENCES)) == original.decode(original.encode(SENTENCES))


def test_fp16_checkpoint_stays_close_to_the_fp32_model(tmp_path, codec):
    codec.save_pretrained(tmp_path / "fp16")
    loaded = DemoCodec.from_pretrained(tmp_path / "fp16", device="cpu")
    torch.testing.assert_close(loaded.encode(SENTENCES), codec.encode(SENTENCES), atol=2e-2, rtol=0)


def test_concepts_span_more_dimensions_than_the_encoder_is_wide(tmp_path):
    """Pooling after a token-wise projection: a concept is not confined to a d_model-rank
    image of the pooled encoder states."""
    codec = build_tiny_demo_codec(tmp_path, dim=64, d_model=16)
    concepts = codec.model.encode(torch.randint(4, 350, (48, 10)))
    assert torch.linalg.matrix_rank(concepts - concepts.mean(0)) > 16


def test_bag_of_words_loss_is_added_and_trains_the_encoder(codec):
    tokens = codec.tokenize(SENTENCES)
    codec.model.train()
    reconstruction = codec.model(tokens)
    with_bow = codec.model(tokens, bow_weight=1.0)
    codec.model.zero_grad()
    (with_bow - reconstruction).backward()
    codec.model.eval()
    assert with_bow > reconstruction
    assert codec.model.encoder[0].mlp[0].weight.grad.abs().sum() > 0


@pytest.mark.skipif(
    not is_demo_checkpoint(DEMO_CODEC_DIR), reason="no bundled demo codec (lcm-writer demo-assets)"
)
def test_bundled_codec_round_trips_ordinary_sentences():
    """The trained codec's round trips of sentences like those it trained on (manuals and
    a Bible) resemble their inputs and re-encode next to them."""
    codec = load_codec("demo", device="cpu")
    sentences = [
        "Click the button to open the dialog box.",
        "Select the text that you want to copy.",
        "The file is saved in the current folder.",
        "And God said to Moses, go to the people.",
    ]
    concepts = codec.encode(sentences)
    decoded = codec.decode(concepts)
    assert sacrebleu.corpus_bleu(decoded, [sentences]).score > 10
    similarity = torch.cosine_similarity(codec.encode(decoded)[:, None], concepts[None], dim=-1)
    assert (similarity.argmax(1) == torch.arange(4)).sum() >= 3
