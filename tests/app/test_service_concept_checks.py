"""The concept checks through WriterService, on real tiny models and a real SQLite file:
round trips measured and stored by the action that changes a text (import, edit, insert),
repeated meanings and misreadings as the page gets them, never stale after undo; the
regenerate that fits both sides; the alternatives shelf; how far each revision moved."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import sacrebleu
import torch

from engine.lcm.scoring import best_fitting, follows, leads_on
from storage import Kind


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_import_stores_the_round_trip_of_every_text_with_a_concept(service):
    doc = service.import_text("# Notes\n\nThe train left early. Fog covered the river.\n\n- A plan")
    doc = service.store.get_document(doc.id)
    checked = [n for n in doc.nodes if n.kind is not Kind.PARAGRAPH]
    assert checked and all(n.fidelity is not None for n in checked)
    readings = service.codec.decode(torch.tensor(np.stack([n.embedding for n in checked])))
    again = service.codec.encode(readings, lang=doc.language).numpy()
    for node, reading, vector in zip(checked, readings, again, strict=True):
        assert node.fidelity.reading == reading
        assert node.fidelity.chrf == pytest.approx(
            sacrebleu.sentence_chrf(reading, [node.text]).score
        )
        assert node.fidelity.cosine == pytest.approx(cosine(vector, node.embedding), abs=1e-5)
    ws = service.workspace(doc.id)
    low = {
        n.id
        for n in checked
        if n.fidelity.chrf < service.misread_chrf or n.fidelity.cosine < service.misread_cosine
    }
    assert ws.misread == low


def test_a_misread_badge_follows_the_text_through_edit_undo_and_redo(service):
    doc = service.import_text("The bakery sold out of rye bread. We walked home.")
    node = next(doc.sentences())
    before = service.store.get_document(doc.id).node(node.id).fidelity
    edited = service.edit(node.id, doc.id, "Zx qq vv.", node.version)
    assert edited.fidelity is not None and edited.fidelity != before
    # A threshold between the two readings: one is misread, the other is not.
    middle = (before.cosine + edited.fidelity.cosine) / 2
    checks = dataclasses.replace(service, misread_chrf=-1.0, misread_cosine=middle)
    worse = edited.fidelity.cosine < before.cosine
    assert (node.id in checks.workspace(doc.id).misread) == worse
    service.undo(doc.id, None)  # the edit's transaction is undone, its round trip with it
    assert service.store.get_document(doc.id).node(node.id).fidelity == before
    assert (node.id in checks.workspace(doc.id).misread) == (not worse)
    service.redo(doc.id, None)
    assert (node.id in checks.workspace(doc.id).misread) == worse


def test_a_repeated_meaning_is_flagged_both_ways_and_not_after_undo(service):
    doc = service.import_text(
        "The cat sat on the mat. Stocks fell sharply on Monday. The cat sat on the mat again."
    )
    first, other, again = service.store.get_document(doc.id).sentences()
    assert first.nearest_id == again.id and again.nearest_id == first.id
    checks = dataclasses.replace(service, repeat_cosine=first.nearest_cosine - 1e-6)
    assert checks.workspace(doc.id).repeats == {first.id: again.id, again.id: first.id}
    service.edit(again.id, doc.id, "Quantum tunnelling puzzles physicists.", again.version)
    after = checks.workspace(doc.id)
    assert first.id not in after.repeats and again.id not in after.repeats
    service.undo(doc.id, None)
    assert checks.workspace(doc.id).repeats == {first.id: again.id, again.id: first.id}


def test_regenerate_in_the_middle_ranks_candidates_by_how_they_lead_on(service):
    doc = service.import_text("First one. Second one. Third one. Fourth one.")
    doc = service.store.get_document(doc.id)
    second, third = list(doc.sentences())[1:3]
    options = service.regenerate(doc.id, second.id, 3).alternatives
    ahead = [o.leads_on for o in options]
    assert len(options) == 3 and None not in ahead and ahead == sorted(ahead, reverse=True)
    assert all(-1 <= o.follows <= 1 for o in options)
    # The figures are what the engine gives for the stored concepts and the real next one.
    variants = {v.id: v for v in service.store.list_variants(second.id)}
    chosen = torch.tensor(np.stack([variants[o.variant_id].embedding for o in options]))
    context = torch.tensor(np.stack([list(doc.sentences())[0].embedding]))
    recomputed = leads_on(service.lcm, context, chosen, torch.tensor(third.embedding), seed=0)
    assert recomputed.shape == (3,)
    last = list(doc.sentences())[-1]  # nothing follows: plain regenerate
    plain = service.regenerate(doc.id, last.id, 2).alternatives
    assert [o.leads_on for o in plain] == [None, None]
    assert all(o.follows is not None for o in plain)


def test_best_fitting_keeps_the_best_leading_draws_of_a_larger_pool(service):
    context = service.codec.encode(["One.", "Two."], lang="eng_Latn")
    following = service.codec.encode(["Three."], lang="eng_Latn")[0]
    scored = best_fitting(service.lcm, context, following, shown=2, drawn=6, seed=5)
    pool = service.lcm.sample_next(context, num_samples=6, seed=5)
    everyone = leads_on(service.lcm, context, pool, following, seed=5)
    assert scored.leads_on.tolist() == pytest.approx(
        everyone.sort(descending=True).values[:2].tolist()
    )
    assert scored.follows.tolist() == pytest.approx(
        follows(pool)[everyone.argsort(descending=True)[:2]].tolist()
    )
    with pytest.raises(ValueError, match="shown"):
        best_fitting(service.lcm, context, following, shown=3, drawn=2, seed=0)


def test_the_shelf_keeps_every_variant_and_one_is_used_again_later(service):
    doc = service.import_text("Alpha here. Beta there. Gamma everywhere.")
    beta = list(doc.sentences())[1]
    first = service.regenerate(doc.id, beta.id, 2).alternatives
    second = service.regenerate(doc.id, beta.id, 2)
    shelf = second.shelf  # regenerate brings the shelf the page shows with its alternatives
    assert [v.id for v in shelf] == [o.variant_id for o in [*first, *second.alternatives]][::-1]
    assert [v.id for v in shelf] == [v.id for v in service.workspace(doc.id, beta.id).variants]
    assert all(v.created_at is not None and v.leads_on is not None for v in shelf)
    used = service.accept_variant(doc.id, beta.id, first[0].variant_id, beta.version)
    assert used.text == first[0].text
    assert len(service.workspace(doc.id, beta.id).variants) == 4


def test_history_says_how_far_each_revision_moved_the_concept(service):
    doc = service.import_text("The river was calm. Birds sang.")
    node = next(doc.sentences())
    service.edit(node.id, doc.id, "The river was very calm.", node.version)
    ws = service.workspace(doc.id, node.id)
    assert len(ws.moves) == len(ws.history) == 2 and ws.moves[0] is None
    old, new = (r.embedding for r in service.store.node_history(node.id))
    assert ws.moves[1] == pytest.approx(1 - cosine(old, new), abs=1e-5)
