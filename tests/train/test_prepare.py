"""`prepare` and `fit-normalizer` on real files with a real (tiny, random) SONAR codec."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from engine.data.normalizer_fit import FitNormalizerConfig, fit_normalizer
from engine.data.prepare import PrepareConfig, prepare
from engine.data.shards import END_OF_TEXT, EncodedDocument, ShardError, write_shard
from engine.data.sources import SourceError
from engine.lcm import Normalizer
from engine.lcm.normalizer import load_normalizer
from tests.codec.tiny_sonar import build_tiny_sonar

DOCS = [
    "The fox ran. The dog slept.\n\nA new paragraph starts here.",
    "Rain fell all day. The river rose. Nobody went out.",
    "One short document.",
    "Cats purr. Dogs bark. Birds sing. Fish swim.",
    "The last one has two sentences. It ends here.",
]


@pytest.fixture(scope="module")
def codec(tmp_path_factory):
    return build_tiny_sonar(tmp_path_factory.mktemp("codec"))


@pytest.fixture
def inputs(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text(DOCS[0])
    (folder / "b.md").write_text("# Weather\n\nRain fell all **day**. The river rose.\n")
    rows = [{"text": DOCS[1], "split": "valid", "summary": "It rained."}, {"text": DOCS[3]}]
    (folder / "c.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    pq.write_table(pa.table({"text": [DOCS[2], DOCS[4]]}), folder / "d.parquet")
    return folder


def config_for(inputs, out, **extra) -> PrepareConfig:
    return PrepareConfig(inputs=(inputs,), out=out, lang="eng_Latn", **extra)


def test_prepare_writes_reference_schema_shards(codec, inputs, tmp_path):
    paths = prepare(config_for(inputs, tmp_path / "shards", shard_size=2), codec)
    assert [p.name for p in paths] == [f"shard-0000{k}.parquet" for k in range(3)]
    table = pa.concat_tables(pq.read_table(p) for p in paths)
    assert table.schema.field("text_sentences_sonar_emb").type == pa.list_(
        pa.list_(pa.float32(), codec.dim)
    )
    assert table.schema.field("text_sentences").type == pa.list_(pa.string())
    rows = table.to_pylist()
    # files in sorted order: a.txt, b.md, c.jsonl (2 rows), d.parquet (2 rows)
    assert [r["split"] for r in rows] == ["train", "train", "valid", "train", "train", "train"]
    assert rows[0]["text_sentences"] == [
        "The fox ran.", "The dog slept.", "A new paragraph starts here.", END_OF_TEXT,
    ]  # fmt: skip
    assert rows[1]["text_sentences"][:2] == ["Weather", "Rain fell all day."]
    for row in rows:
        assert row["text_sentences"][-1] == END_OF_TEXT
        emb = np.array(row["text_sentences_sonar_emb"], dtype=np.float32)
        expected = codec.encode(row["text_sentences"], lang="eng_Latn").numpy()
        np.testing.assert_allclose(emb, expected, atol=1e-4)


def test_prepare_resumes_and_refuses_another_codec(codec, inputs, tmp_path):
    out = tmp_path / "shards"
    first = prepare(config_for(inputs, out, shard_size=2), codec)
    kept = first[0].stat().st_mtime_ns
    first[1].unlink()  # as if the run had died while writing shard 1
    again = prepare(config_for(inputs, out, shard_size=2), codec)
    assert again == first and first[1].is_file()
    assert first[0].stat().st_mtime_ns == kept  # finished shards are not redone
    emb = np.zeros((1, codec.dim + 1), np.float32)
    write_shard(first[0], [EncodedDocument("x", ["x"], emb, "train")], "other", codec.dim + 1)
    with pytest.raises(ShardError, match="new --out directory"):
        prepare(config_for(inputs, out, shard_size=2), codec)


def test_prepare_splits_shards_between_processes(codec, inputs, tmp_path):
    cfg = config_for(inputs, tmp_path / "shards", shard_size=1)
    rank0 = prepare(cfg, codec, rank=0, world_size=2)
    rank1 = prepare(cfg, codec, rank=1, world_size=2)
    assert [p.name[-10:-8] for p in rank0] == ["00", "02", "04"]
    assert [p.name[-10:-8] for p in rank1] == ["01", "03", "05"]
    assert all(p.is_file() for p in rank0 + rank1)


def test_prepare_keeps_a_fine_tuning_source(codec, tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps({"text": DOCS[3], "summary": "Animals make sounds."}) + "\n")
    shard = prepare(config_for(path, tmp_path / "s", source_field="summary"), codec)[0]
    row = pq.read_table(shard).to_pylist()[0]
    assert row["source_sentences"] == ["Animals make sounds."]  # no end-of-text on sources
    assert len(row["source_sentences_sonar_emb"]) == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"text": "No summary here."}) + "\n")
    with pytest.raises(SourceError, match="bad.jsonl:1: no string field 'summary'"):
        prepare(config_for(bad, tmp_path / "t", source_field="summary"), codec)


def test_fit_normalizer_uses_sentence_concepts_only(codec, inputs, tmp_path):
    shards = tmp_path / "shards"
    prepare(config_for(inputs, shards), codec)
    out = tmp_path / "norm.safetensors"
    summary = fit_normalizer(FitNormalizerConfig(shards=shards, out=out))
    loaded, meta = load_normalizer(out)
    assert meta["codec"] == codec.name and int(meta["dim"]) == codec.dim
    rows = pq.read_table(shards).to_pylist()
    sentences = [s for r in rows if r["split"] == "train" for s in r["text_sentences"][:-1]]
    assert summary == {"concepts": len(sentences), "dim": codec.dim, "codec": codec.name}
    expected = Normalizer(codec.dim).fit(codec.encode(sentences, lang="eng_Latn"))
    torch.testing.assert_close(loaded.center, expected.center, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(loaded.scale, expected.scale, atol=1e-4, rtol=1e-4)
