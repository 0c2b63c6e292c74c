"""Examples, packing, rank sharding and the resumable position of ConceptBatches."""

import numpy as np
import pytest

from engine.data.dataset import (
    ConceptBatches,
    DatasetError,
    Example,
    load_examples,
    pack,
    source_target_example,
    wrap_document,
)
from tests.train.synthetic import write_synthetic_shards


def rows(n, dim=4):
    return np.arange(n * dim, dtype=np.float32).reshape(n, dim)


def test_long_documents_are_wrapped_and_one_concept_tails_dropped():
    windows = wrap_document(rows(7), max_len=3)
    assert [len(w.concepts) for w in windows] == [3, 3]  # the 1-concept tail predicts nothing
    assert np.array_equal(windows[1].concepts, rows(7)[3:6])
    assert [len(w.concepts) for w in wrap_document(rows(8), 3)] == [3, 3, 2]


def test_fine_tuning_examples_put_the_source_first_and_truncate_the_target():
    example = source_target_example(rows(2), rows(5) + 100, max_len=4)
    assert example.n_source == 2 and len(example.concepts) == 4
    assert np.array_equal(example.concepts[2:], (rows(5) + 100)[:2])
    assert source_target_example(rows(4), rows(2), max_len=4) is None


def test_pack_bounds_the_padded_size():
    lengths = [3, 5, 2, 2, 9]
    batches = pack(lengths, np.arange(5), max_concepts=10)
    # [3,5] -> 2x5=10; adding 2 -> 3x5=15 > 10; [2,2] -> 4; + 9 -> 27 > 10; [9] alone
    assert batches == [[0, 1], [2, 3], [4]]


def test_batches_are_masked_and_padded():
    examples = [Example(rows(3), 0), Example(rows(2), 1)]
    batch = ConceptBatches(examples, max_concepts=100, with_loss_mask=True).next_batch()
    assert batch.concepts.shape == (2, 3, 4) and batch.num_concepts == 5
    by_length = sorted(range(2), key=lambda i: -int(batch.mask[i].sum()))
    long, short = (batch.mask[i].tolist() for i in by_length)
    assert long == [True, True, True] and short == [True, True, False]
    assert batch.loss_mask[by_length[1]].tolist() == [False, True, False]  # source not scored


def test_ranks_get_disjoint_batches_of_every_epoch():
    examples = [Example(rows(2) + i, 0) for i in range(10)]  # row 0 starts with i
    seen = []
    for rank in (0, 1):
        stream = ConceptBatches(examples, max_concepts=4, seed=3, rank=rank, world_size=2)
        # 5 batches of 2 per epoch: each rank gets 2, the fifth is dropped
        batches = [stream.next_batch() for _ in range(2)]
        seen.append({int(v) for b in batches for v in b.concepts[:, 0, 0]})
        assert stream.epoch == 0 and len(stream._rank_batches(0)) == 2
    assert not seen[0] & seen[1] and len(seen[0] | seen[1]) == 8


def test_position_restores_the_exact_stream():
    examples = [Example(rows(2) + i, 0) for i in range(7)]
    stream = ConceptBatches(examples, max_concepts=4, seed=1)
    for _ in range(5):  # into the second epoch
        stream.next_batch()
    state = stream.state_dict()
    expected = [stream.next_batch().concepts for _ in range(6)]
    resumed = ConceptBatches(examples, max_concepts=4, seed=1)
    resumed.load_state_dict(state)
    assert all((resumed.next_batch().concepts == e).all() for e in expected)
    assert state["epoch"] == 1


def test_load_examples_from_shards(tmp_path):
    shards = write_synthetic_shards(tmp_path / "s", docs=16)
    pretrain, info = load_examples(str(shards), "train", "pretrain", max_len=4)
    assert info["dim"] == 16 and info["eot"].shape == (16,)
    assert all(2 <= len(e.concepts) <= 4 and e.n_source == 0 for e in pretrain)
    finetune, _ = load_examples(str(shards), "valid", "finetune", max_len=6)
    assert len(finetune) == 2 and all(e.n_source == 1 for e in finetune)
    with pytest.raises(DatasetError, match="no pretrain examples in split 'test'"):
        load_examples(str(shards), "test", "pretrain")
    with pytest.raises(DatasetError, match="fewer batches than the 64 ranks"):
        ConceptBatches(pretrain, max_concepts=10_000, world_size=64)
