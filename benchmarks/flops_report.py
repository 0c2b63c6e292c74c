"""The compute-model suite: FLOPs per generated sentence against the length of the text,
as a JSON table, a Markdown table and a plot (benchmarks/flops.png)."""

from __future__ import annotations

import json
from pathlib import Path

from engine.paths import REPO

from . import flops
from .harness import RESULTS_DIR, machine_info

PLOT_PATH = REPO / "benchmarks" / "flops.png"
LENGTHS = (100, 300, 1_000, 3_000, 10_000, 30_000, 100_000)
SENTENCE_LENGTHS = (10, 15, 20, 25, 30, 40, 50, 60)
SAMPLERS = {  # label -> (steps, guided)
    "40 steps, guided": (40, True),
    "40 steps, unguided": (40, False),
    "10 steps, guided": (10, True),
}


def table_rows() -> list[dict]:
    rows = []
    for total in LENGTHS:
        c = flops.compare(total)
        row = {"total_tokens": total, "llama2_7b": c.llm, "sonar_decoder": c.sonar_decoder}
        row.update({name: cost for name, cost in c.lcm.items()})
        rows.append(row)
    return rows


def crossovers() -> dict[str, dict[int, int | None]]:
    return {
        f"{name}, {label}": {s: flops.crossover(name, s, steps, guided) for s in SENTENCE_LENGTHS}
        for name in flops.LCM_PRESETS
        for label, (steps, guided) in SAMPLERS.items()
    }


def markdown(rows: list[dict]) -> str:
    names = flops.LCM_PRESETS
    header = "| total length (tokens) | Llama-2-7B | " + " | ".join(
        f"{n} (+ SONAR decoder)" for n in names
    )
    lines = [header + " |", "|" + "---|" * (2 + len(names))]
    for row in rows:
        cells = [f"{row['llama2_7b'] / 1e9:,.0f}"]
        decoder = row["sonar_decoder"]
        cells += [f"{row[n] / 1e9:,.0f} ({(row[n] + decoder) / 1e9:,.0f})" for n in names]
        lines.append(f"| {row['total_tokens']:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(path: Path = PLOT_PATH) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lengths = [int(10 ** (2 + i / 20)) for i in range(61)]  # 100 .. 100,000 tokens
    comparisons = [flops.compare(t) for t in lengths]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6))
    left.plot(lengths, [c.llm / 1e9 for c in comparisons], "k-", label="Llama-2-7B")
    for name, colour in zip(flops.LCM_PRESETS, ("tab:blue", "tab:red"), strict=True):
        with_decoder = [(c.lcm[name] + c.sonar_decoder) / 1e9 for c in comparisons]
        left.plot(lengths, with_decoder, "-", color=colour, label=f"{name} + SONAR decoder")
        core = [c.lcm[name] / 1e9 for c in comparisons]
        left.plot(lengths, core, "--", color=colour, label=f"{name} alone")
    left.set(
        xscale="log", yscale="log", xlabel="total length of the text (Llama-2 tokens)",
        ylabel="GFLOPs for the next sentence",
        title=f"Next sentence of {flops.SENTENCE_TOKENS} tokens, 40 DDIM steps, guided",
    )  # fmt: skip
    left.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=8)
    styles = {"40 steps, guided": "-", "40 steps, unguided": "--", "10 steps, guided": ":"}
    for key, points in crossovers().items():
        name, label = key.split(", ", 1)
        xs = [s for s, x in points.items() if x is not None]
        colour = "tab:blue" if name == "two_tower_1.6b" else "tab:red"
        right.plot(xs, [points[s] for s in xs], styles[label], color=colour, label=key)
    right.set(
        yscale="log", xlabel="mean sentence length (tokens)",
        ylabel="length from which the LCM is cheaper (tokens)",
        title="Break-even length against Llama-2-7B (with SONAR decoder)",
    )  # fmt: skip
    right.grid(True, which="both", alpha=0.3)
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run(options) -> Path:
    rows = table_rows()
    payload = {
        "suite": "flops",
        "machine": machine_info(),
        "assumptions": {
            "sentence_tokens": flops.SENTENCE_TOKENS,
            "sampler": "40 DDIM steps, classifier-free guidance (2 rows per sample), 1 sample",
            "caches": "LLM KV cache; LCM contextualizer KV cache and cross-attention K/V",
            "sonar_decoder": "greedy, 24 layers, d 1024, vocab 256,206",
        },
        "parameters": {n: flops.parameters(flops.preset(n)) for n in flops.LCM_PRESETS},
        "per_sentence_flops": rows,
        "crossover_tokens": {k: {str(s): v for s, v in d.items()} for k, d in crossovers().items()},
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / "flops.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    plot()
    print(markdown(rows))
    return path
