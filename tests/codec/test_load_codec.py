"""load_codec: names, checkpoint directories, lazy imports, and the offline path for SONAR."""

import os
import subprocess
import sys
import uuid

import pytest
import sentencepiece as spm
import torch

from engine.codec import CodecError, CodecUnavailableError, load_codec
from engine.paths import REPO
from tests.codec.tiny_sonar import train_tiny_sentencepiece


def run_python(code: str, env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter (fresh fairseq2 state); timeout guards against hangs."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_importing_engine_codec_does_not_import_sonar_or_fairseq2():
    code = (
        "import sys, engine.codec\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('fairseq2', 'sonar'))\n"
        "print(heavy)\n"
    )
    result = run_python(code, {})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# Any attempt to open a connection (or resolve a host name) fails the run at once.
NO_NETWORK = """
import sys
def refuse(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "urllib.Request"):
        raise RuntimeError(f"network access attempted: {event} {args[:2]}")
sys.addaudithook(refuse)
"""


@pytest.mark.slow  # a fresh interpreter re-imports fairseq2: 30-60 s on 2 busy cores
def test_sonar_without_weights_fails_fast_with_a_clear_typed_error(tmp_path):
    """Offline, with an empty fairseq2 cache: a CodecUnavailableError, no network, no hang."""
    code = NO_NETWORK + (
        "from engine.codec import load_codec, CodecUnavailableError\n"
        "try:\n"
        "    load_codec('sonar', device='cpu')\n"
        "except CodecUnavailableError as ex:\n"
        "    print('ERROR:', ex)\n"
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {
        "FAIRSEQ2_CACHE_DIR": str(tmp_path / "cache"),
        "FAIRSEQ2_USER_ASSET_DIR": str(empty),
        "XDG_CONFIG_HOME": str(empty),
    }
    result = run_python(code, env)
    assert result.returncode == 0, result.stderr
    message = result.stdout.split("ERROR:", 1)[1]
    for expected in (
        "text_sonar_basic_encoder checkpoint (https://dl.fbaipublicfiles.com/SONAR/",
        "text_sonar_basic_decoder checkpoint",
        "tokenizer",
        str(tmp_path / "cache"),
        "python -m engine.codec.sonar",
        "sentencepiece.source.256000.model",
    ):
        assert expected in message, message


def test_uncached_sonar_weights_raise_before_any_download(no_network):
    """The packaged cards with checkpoint/tokenizer URLs that no cache can hold."""
    from fairseq2.assets import AssetCard, get_asset_store

    from engine.codec.sonar import DECODER_CARD, ENCODER_CARD, SonarCodec

    def uncached(name: str) -> AssetCard:
        url = f"https://dl.fbaipublicfiles.com/SONAR/lcmw-test-{uuid.uuid4().hex}"
        files = {"checkpoint": f"{url}.pt", "tokenizer": f"{url}.model"}
        return AssetCard(name, files, get_asset_store().retrieve_card(name))

    encoder, decoder = uncached(ENCODER_CARD), uncached(DECODER_CARD)
    with pytest.raises(CodecUnavailableError) as info:
        SonarCodec.from_cards(encoder, decoder, device="cpu")
    message = str(info.value)
    for card in (encoder, decoder):
        for field in ("checkpoint", "tokenizer"):
            assert f"{card.name} {field} ({card.field(field).value})" in message
    assert "FAIRSEQ2_CACHE_DIR" in message and "python -m engine.codec.sonar" in message


def test_unknown_codec_name_lists_the_choices():
    with pytest.raises(CodecError, match="'demo'.*'sonar'.*'sonar-finetuned'.*directory"):
        load_codec("sonnar")


def test_a_missing_directory_is_named(tmp_path):
    with pytest.raises(CodecUnavailableError, match="No codec checkpoint directory"):
        load_codec(tmp_path / "nowhere")


def test_a_directory_that_is_no_checkpoint_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("nothing here")
    with pytest.raises(CodecError, match="not a codec checkpoint"):
        load_codec(tmp_path)


def test_a_demo_checkpoint_directory_loads_the_demo_codec(tmp_path):
    from engine.codec.demo import DemoAutoencoder, DemoCodec, DemoCodecConfig

    sp = spm.SentencePieceProcessor(model_file=str(train_tiny_sentencepiece(tmp_path / "t.spm")))
    cfg = DemoCodecConfig(vocab_size=sp.vocab_size(), dim=16, d_model=16, n_heads=2)
    cfg.encoder_layers = cfg.decoder_layers = 1
    DemoCodec(DemoAutoencoder(cfg), sp).save_pretrained(tmp_path / "codec")
    codec = load_codec(tmp_path / "codec", device="cpu")
    assert isinstance(codec, DemoCodec) and codec.dim == 16
    assert codec.encode(["Hello there."]).shape == (1, 16)
    fast = load_codec(tmp_path / "codec", device="cpu", dtype=torch.bfloat16)
    assert codec.compute_dtype == torch.float32 and fast.compute_dtype == torch.bfloat16
    sentences = ["Hello there.", "A second, rather longer sentence for the batch."]
    exact, rounded = codec.encode(sentences), fast.encode(sentences)
    assert rounded.dtype == torch.float32  # bf16 arithmetic, fp32 concepts
    assert torch.nn.functional.cosine_similarity(exact, rounded).min() > 0.999
    assert not torch.equal(exact, rounded)  # the matrix products really ran in bf16
    assert all(isinstance(t, str) for t in fast.decode(rounded, max_len=8))


def test_a_sonar_directory_missing_the_decoder_says_what_is_expected(tmp_path):
    (tmp_path / "sonar_text_encoder.pt").write_bytes(b"")
    (tmp_path / "sentencepiece.source.256000.model").write_bytes(b"")
    with pytest.raises(CodecUnavailableError, match="sonar_text_decoder.pt"):
        load_codec(tmp_path, device="cpu")


def test_a_sonar_card_directory_with_missing_files_names_them(tmp_path):
    (tmp_path / "sonar.yaml").write_text(
        "name: text_sonar_basic_encoder@user\n"
        "checkpoint: weights/encoder.pt\n"
        "tokenizer: weights/spm.model\n"
        "---\n"
        "name: text_sonar_basic_decoder@user\n"
        "checkpoint: weights/decoder.pt\n"
        "tokenizer: weights/spm.model\n"
    )
    with pytest.raises(CodecUnavailableError) as info:
        load_codec(tmp_path, device="cpu")
    for name in ("encoder.pt", "decoder.pt", "spm.model"):
        assert str(tmp_path / "weights" / name) in str(info.value)
