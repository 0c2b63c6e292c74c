"""The auto-encoding curve of a residual vector quantiser (paper section 2.5, figure 7).

For held-out sentences s with concepts x = encode(s): AutoBLEU of decode(RVQ(x)[:k])
against s for k = 1, 2, 4, ..., all codebooks, next to the continuous codec's own round
trip decode(x), and the share of it each k keeps (the paper reaches about 70 % with all
64 codebooks of SONAR's RVQ). Also the cosine of the quantised concept to x.
"""

from __future__ import annotations

from engine.eval import concept_metrics as cm
from engine.eval import text_metrics as tm
from engine.lcm.rvq import ResidualVQ, curve_levels


def autoencoding_curve(codec, rvq: ResidualVQ, sentences: list[str], lang: str) -> dict:
    """Flat metrics: `continuous_auto_bleu`, then `auto_bleu@k`, `ratio@k`, `cosine@k`."""
    embeddings = codec.encode(sentences, lang=lang).float().cpu()
    continuous = tm.auto_bleu(codec.decode(embeddings, lang=lang), sentences)
    codes = rvq.encode(embeddings.to(rvq.codebooks))
    metrics = {"continuous_auto_bleu": continuous}
    for k in curve_levels(rvq.num_codebooks):
        quantised = rvq.decode(codes[:, :k]).float().cpu()
        bleu = tm.auto_bleu(codec.decode(quantised, lang=lang), sentences)
        metrics[f"auto_bleu@{k}"] = bleu
        metrics[f"ratio@{k}"] = bleu / continuous if continuous else 0.0
        metrics[f"cosine@{k}"] = cm.mean_cosine(quantised, embeddings)
    return metrics
