"""`lcm-writer generate`: continue a text with an LCM from the command line.

    echo "The storm came at night. The keeper lit the lamp." | lcm-writer generate
    lcm-writer generate "A first sentence." --lcm CKPT_DIR --codec sonar --max-concepts 8
    lcm-writer generate "A first sentence." --lcm demo-quant --temperature 0.7 --top-p 0.9

The text is split into sentences, each encoded as a concept; the LCM continues the
concept sequence until it predicts end-of-text (or max-concepts), and the codec decodes
the new concepts. The continuation is printed, one sentence per line. No pipeline of its
own: the engine calls the writer's service makes (split_sentences, codec.encode,
lcm.generate, codec.decode), on a text instead of a stored document.
"""

from __future__ import annotations

import argparse
import json
import sys

from engine.codec import load_codec
from engine.errors import EngineError, check_same_space
from engine.lang import detect_language
from engine.lcm import load_lcm
from engine.segment import split_sentences


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", nargs="?", help="the text to continue (default: read stdin)")
    parser.add_argument(
        "--lcm", default="demo", help='"demo", "demo-quant" or an LCM checkpoint directory'
    )
    parser.add_argument("--codec", default="demo", help='"demo", "sonar" or a codec directory')
    parser.add_argument("--lang", help="language of the text, e.g. eng_Latn (default: detect)")
    parser.add_argument("--out-lang", help="language to write in (default: --lang)")
    parser.add_argument("--max-concepts", type=int, default=16, help="most sentences to add")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, help="DDIM steps (default: the model's, 40)")
    parser.add_argument("--guidance-scale", type=float, help="classifier-free guidance scale")
    parser.add_argument("--temperature", type=float, help="quantized LCMs: 0 = most likely units")
    parser.add_argument("--top-p", type=float, help="quantized LCMs: nucleus sampling mass")
    parser.add_argument("--top-k", type=int, help="quantized LCMs: draw among the k likeliest")
    parser.add_argument("--device", help="cpu, cuda, ... (default: cuda when present)")
    parser.add_argument("--json", action="store_true", help="print input and output as JSON")


def run(args: argparse.Namespace) -> int:
    text = args.text if args.text is not None else sys.stdin.read()
    if not text.strip():
        print("error: no text to continue: pass it as an argument or on stdin", file=sys.stderr)
        return 2
    if args.max_concepts < 1:
        print("error: --max-concepts must be at least 1", file=sys.stderr)
        return 2
    options = {
        "steps": args.steps,
        "guidance_scale": args.guidance_scale,
        "temperature": args.temperature,
        "top_p": args.top_p,
        "top_k": args.top_k,
    }
    options = {name: value for name, value in options.items() if value is not None}
    try:
        lang = args.lang or detect_language(text)
        sentences = split_sentences(text, lang=lang)
        codec = load_codec(args.codec, device=args.device)
        lcm = load_lcm(args.lcm, device=args.device)
        check_same_space(lcm, codec)
        context = codec.encode(sentences, lang=lang)
        new = lcm.generate(context, max_concepts=args.max_concepts, seed=args.seed, **options)
        continuation = codec.decode(new, lang=args.out_lang or lang) if len(new) else []
    except EngineError as error:  # a missing model, an unknown language, mismatched models
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (ValueError, TypeError) as error:  # bad sampler options, e.g. --steps 0
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"lang": lang, "input": sentences, "continuation": continuation},
                         ensure_ascii=False, indent=2))  # fmt: skip
    else:
        print("\n".join(continuation))
    return 0
