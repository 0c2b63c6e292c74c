"""The demo-model factory behind `lcm-writer demo-assets`: rebuilds the bundled demo
models from scratch (pipeline.build_demo_assets; what it builds is in constants).

Stages, each skipped when its output exists (so re-running resumes):
  1. corpus   Debian manuals and Bibles in four languages -> <work>/corpus (documents,
              aligned pairs, sentence files; engine.data.corpus)       [codec_stages]
  2. codec    four-language codec training (resumable) -> <work>/codec_run ->
              assets/demo/codec                                        [codec_stages]
  3. shards   the English documents prepared with the demo codec -> <work>/shards
  4. norm     the normalisers fitted on them -> <work>/normalizer{,_whitened}.safetensors
  5. rvq      the RVQ fitted on them -> <work>/rvq.safetensors          [data_stages]
  6. lcms     training (recipes/demo.yaml) of each model type; the Two-Tower goes to
              assets/demo/lcm and the Quant-LCM-d to assets/demo/quant_lcm (fp16),
              the others stay in <work> for comparison                   [lcm_stages]
  7. eval     the RVQ's auto-encoding curve on held-out sentences, each LCM's held-out
              metrics beside two baselines, the bundled LCM's sampler comparison and
              guidance sweep -> <work>/eval                              [eval_stages]
  8. cards    assets/demo/codec/README.md, assets/demo/lcm/README.md (all five LCMs)
              and assets/demo/quant_lcm/README.md  [cards, card_sections, templates]

About 2.5 hours on a free 2-core CPU (most of it the codec). With a GPU the codec trains
there in about 11 minutes; the rest stays on the CPU, about 30 minutes.
"""
