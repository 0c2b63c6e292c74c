"""The demo model cards' text: the codec, LCM and Quant-LCM cards, and the sections
added to a card after the measurement behind it (engine.demo.card_sections)."""

SAMPLER_SECTION = "## Sampler variants"
TUNING_SECTION = "## Sampler tuning"
REGENERATE_SECTION = "## Regenerate that fits both sides"
REPEAT_SECTION = "## Repeated meaning threshold"
CURVE_SECTION = "## Learning curve"

TUNING_INTRO = (
    TUNING_SECTION
    + """ (bundled Two-Tower, tuned on held-out documents)
The bundled settings are chosen on {data}, which the figures above never read.

First, when generation stops (`engine.eval.generation_thresholds`): the end-of-text
threshold that best separates the model's next concept at the end of a document from
one inside it (share stopped at the end minus share stopped inside; on a tie the higher
threshold), and the lowest repetition threshold at which at most {real_repeats:.0%} of
real sentences would count as repeating an earlier one of their document. Chosen:
{generation_verdict}.

{thresholds}
Then, at those thresholds, `engine.eval.sampler_sweep.tune` sweeps where guidance
applies (the noise estimate or the clean sample), the guidance scale, its rescale, the
initial noise scale (the sampler's temperature), then the number of denoising steps,
each at the values chosen before it, at the same positions and starting noise. Each
value is scored by next-concept accuracy and l2, the decoded K=4 regenerations'
dictionary-word rate (beside the codec's own round trip of the true sentences) and share
of distinct alternatives, and REP-4 of 5-sentence continuations (written as Expand
writes them) beside the held-out text's own.
Guidance sharpens the next concept, so accuracy rises with it, but successive concepts
converge: continuations loop and alternatives coincide. Among the values that meet the
writer's targets (words {word_rate:.0%}, or the round trip's rate less {slack:.0f} points
where lower; distinct alternatives {distinct:.0%}; REP-4 no higher than the text's), the
most accurate wins; for steps, the fewest within {tolerance:g} of the best accuracy,
since a writer waits for every step. Chosen: {verdict}.

{tables}"""
)

SAMPLER_INTRO = (
    SAMPLER_SECTION
    + """ (bundled Two-Tower, same positions and starting noise)
Classifier-free guidance and its rescale applied to the noise estimate with no guidance
at the first step (the reference implementation's way, the default), or to the
clean-sample estimate (this project's earlier way), and epsilon scaling (the predicted
noise divided by a factor just above 1), measured on {data}
(`engine/eval/sampler_comparison.py`, next-concept metrics of the paper's section 2.4):

{samplers}
"""
)

CURVE_INTRO = (
    CURVE_SECTION
    + """
Held-out contrastive accuracy (l2 in brackets) of the weights kept every {every} training
steps, at the positions and with the noise of the results above, each model at its
training-time sampler (`engine.demo.eval_stages.learning_curve`); copy-previous scores
{copy:.3f} there. Where the curve has flattened, more steps of this model on this corpus
will not close the gap; a larger model or corpus is what would.

{table}"""
)

REGENERATE_INTRO = (
    REGENERATE_SECTION
    + """ (bundled Two-Tower)
The writer's regenerate draws {drawn_per_shown}K candidates from the concepts before a
sentence and shows the K whose continuation (the LCM's prediction of the next concept
after the candidate, {lead_samples} draws of {prediction_steps} DDIM steps) comes closest
to the sentence that really follows; plain regenerate shows K draws. Cosine of the
alternatives to the sentence that was really there, at {predictions} held-out positions
with a sentence after them ({data}; `engine/eval/concept_checks.py`, seed 0):

{table}"""
)

REPEAT_INTRO = (
    REPEAT_SECTION
    + """
The writer flags two sentences of a document as saying the same thing when their
concepts' cosine is at least **{threshold:.2f}** (`REPEAT_COSINE` in app/service.py),
chosen to get the most pairs of both kinds right on held-out pairs ({data};
`engine/eval/concept_checks.py`): {paraphrases} paraphrase pairs (mean cosine
{paraphrase_cosine:.3f}; {paraphrases_flagged:.0%} flagged) against {neighbours} neighbours
that say something else: consecutive lines of everyday prose, and each sentence of the
held-out documents with its nearest other sentence there, which is what the badge
compares (mean cosine {neighbour_cosine:.3f}; {neighbours_flagged:.1%} flagged: everyday
prose {everyday_neighbours_flagged:.1%}, document sentences
{document_neighbours_flagged:.1%}). A badge on a real document's sentence is that often
a false alarm.
"""
)

CODEC_CARD = """# Demo concept codec (English, French, German, Spanish)

**What**: a small sentence encoder-decoder that maps a sentence in English, French, German
or Spanish to a 512-d concept vector, and writes any concept back in any of the four.
A sentence and its translations are trained to share one concept, so "View in French"
decodes the same concepts in French. It stands in for SONAR on a CPU; other languages
need SONAR (`--codec sonar` on a GPU). {params:.2f}M parameters, stored in fp16.

**Architecture** (`engine/codec/demo.py`): one SentencePiece unigram tokenizer for the
four languages; a pre-norm transformer encoder, a token-wise MLP to 512 and masked mean
pooling (the encoder is told nothing about the language); the decoder reads the concept
as a few memory slots through cross-attention, plus the slots' mean and a learned
embedding of the language to write added to every input position, and writes greedily
or with beam search, with a KV cache.
Config: `{codec}`

**Training** (`engine/codec/demo_train.py`, via `lcm-writer demo-assets`) on the train
split of the demo corpus (assets/README.md: Debian manuals in four languages, the World
English Bible and the Spanish Reina-Valera, WordNet), SONAR's recipe at toy scale:
auto-encoding batches ({autoencoding:,} sentences, a share of the decoder's inputs
replaced by UNK, plus a bag-of-words term) alternate with translation batches
({pairs:,} aligned sentence pairs: each side's concept writes the other side, and
{alignment}). AdamW on **{hardware}**:
{minutes:.1f} minutes of training time, {sentences:,} sentences and pairs seen, {cycles}
(`cycle_minutes`).
Config: `{train}`

## Status against the targets (CPU-trained codec)
{status}

## Held-out figures
Measured on the CPU with the shipped fp16 weights, on text never trained on: sentences
of 20-150 characters from held-out documents (split by document), the Debian Reference
(held out as a whole source, in all four languages), and the project's own everyday
prose (`assets/eval`, written for evaluation). Samples by a fixed seed. Retrieval: is the
nearest concept by cosine, among all the pairs' other sides, the translation?

{figures}

Encode + decode of one sentence (greedy), median of 20 runs on this 2-core CPU with
{threads} torch thread(s): **{latency:.0f} ms**.

Learning curve (periodic evals: 200 English and 100 sentences per other language from
held-out documents, retrieval among 200 held-out pairs):

{curve}

## Examples (input -> output; the first rows of the fixed-seed samples, not picked)

{examples}

## Limits
- Trained for under two hours on a 2-core CPU: round trips keep the topic and many
  words, but often not the sentence; translations are rough. The GPU recipe
  (`--codec-device cuda`) is the path to quality.
- Trained on technical manuals and Bibles: everyday, literary or conversational
  sentences come back less faithfully, and rare names and numbers are often changed.
- Round trips degrade with sentence length; sentences are capped at 200 characters.
- Its concept space has nothing to do with SONAR's: LCMs trained on one do not work on
  the other.
"""

LCM_CARD = """# Demo LCMs (English, on the demo codec's concepts)

**What**: small Large Concept Models that predict the next concept of a document in the
demo codec's 512-d space (engine/lcm, preset `demo` with `{overrides}`). The bundled model (this
directory, fp16) is the Two-Tower diffusion LCM; the other models below were trained
the same way for comparison (when the quantized LCMs are built, the Quant-LCM-d is
bundled in `../quant_lcm`, with its RVQ's card). Each carries its normaliser, fitted
on the training concepts (the Two-Tower's whitened, the others' robust: `WHITENED_LCMS`
in `engine/demo/constants.py`), and its end-of-text concept (the demo codec's encoding
of "End of text.").

**Training**: `lcm-writer demo-assets` -> `lcm-writer prepare` (demo codec, capped
spaCy/SaT segmentation) -> `fit-normalizer` (`--kind whitened` for the Two-Tower) ->
`lcm-writer train --recipe recipes/demo.yaml`
on the train split of the demo corpus (assets/README.md), pre-training objective (next
concept over whole documents, wrapped at 128 concepts), on this 2-core CPU.

## Status (read first)
- Trained on the concepts of the demo codec (`../codec/README.md`, held-out AutoBLEU
  {codec_bleu:.1f} greedy, {everyday_bleu:.1f} on everyday prose): continuations decode
  only as faithfully as its round trips.
- Contrastive accuracy on held-out documents ({positions} positions per document): {status}
- Against the targets of a writer's LCM: {targets}
- {sampler}

## Results on held-out documents
Next-concept metrics of the paper's section 2.4 (`lcm-writer eval`, split `valid`, the
same sampled positions for every row; l2 in raw codec space; contrastive accuracy: share
of the other true next concepts that lie farther from the prediction than the right one;
paraphrasing: highest cosine to a context concept), against two trivial predictors:

{table}

## What a writer gets (held-out documents, decoded)
At the same positions: K=4 regenerations of a sentence from the concepts before it and
5-sentence continuations, decoded by the demo codec (`engine/eval/writer_metrics.py`).
The continuations are written as the app's Expand writes them (`engine/writing.py`):
exactly 5 sentences, each one that adds a repeated 4-gram drawn again (up to 8 draws,
redraws at guidance 1, the least repetitive kept).
Word rate: share of decoded words found in Debian's `wamerican` list (the codec's own
round trip of the true sentences is the reference); distinct: share of the 4
alternatives that differ; cosines of the sampled concepts to the true sentence's and to
its neighbours'; REP-4 of the continuations against the held-out text's own next
sentences (the bar) and against the codec's round trip of those sentences, decoded from
their own concepts (what the decoder alone adds).

{writer}

Examples of the bundled Two-Tower:
{writer_examples}

{sections}

## Limits
- Tiny by LCM standards and trained for an hour on a CPU, on about 4,200 English
  documents (software manuals and the World English Bible): continuations are topical
  at best, often generic, and read only as well as the codec decodes.
- Only meaningful with the demo codec; with SONAR, train your own LCM.
"""

QUANT_CARD = """# Demo quantized LCM (Quant-LCM-d, English, on the demo codec's concepts)

**What**: the paper's quantized LCM (section 2.5) at demo size. A residual vector
quantiser (RVQ: {codebooks} codebooks of {units} units, seeded k-means on the training
concepts, `lcm-writer fit-rvq`) writes every concept as one unit per codebook, coarse to
fine; Quant-LCM-d (`engine/lcm/quant_lcm.py`) keeps the Two-Tower's contextualizer and
predicts the units codebook by codebook with a softmax, so sampling has the controls a
writer knows from language models: `temperature` (0: always the most likely unit),
`top_p` and `top_k`, passed to `sample_next` / `generate`. The codebooks are inside
`model.safetensors`; `load_lcm("demo-quant")` loads it. Same training data, recipe and
size as the bundled Two-Tower (`../lcm/README.md`), fp16.

## The RVQ's auto-encoding curve
{n} held-out English sentences (20-150 characters, the codec card's held-out sample):
AutoBLEU of decode(RVQ(x)[:k]) for the first k codebooks, against the continuous codec's
own round trip decode(x) (AutoBLEU {continuous:.1f}), and the cosine of the quantised
concept to x (`engine/eval/rvq_curve.py`):

{curve}

With all {codebooks} codebooks the RVQ keeps {share:.0%} of the continuous codec's AutoBLEU:
it **{verdict}** the target of 70 % (the paper's ratio with 64 codebooks of 8,192 units).

## Next-concept metrics on held-out documents
`lcm-writer eval`, split `valid`, {positions} positions per document, default sampling
(Quant-LCM: temperature 1), beside the bundled Two-Tower:

{table}

## Limits
- The RVQ is fitted on {sample:,} training concepts: its later codebooks model little but
  noise, and the quantised concepts decode only as faithfully as the demo codec's round
  trips.
- Trained for minutes on a 2-core CPU (the LCM card's training summaries in `../lcm/README.md`
  give the steps): not yet a model to write with.
- No classifier-free guidance (the paper's quantized LCMs lag its diffusion LCMs too).
"""
