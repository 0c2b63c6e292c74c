"""Markdown tables of the measured results (benchmarks/results/*.json), for BENCHMARKS.md:
`lcm-writer bench --report` prints them without running anything."""

from __future__ import annotations

import json

from .harness import RESULTS_DIR


def _load(suite: str) -> dict | None:
    path = RESULTS_DIR / f"{suite}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _mb(result: dict) -> str:
    """Peak resident set of the process during a run, and (+) what the run itself added."""
    if result["peak_rss_mb"] is None:
        return "n/a"
    growth = result["rss_growth_mb"]
    return f"{result['peak_rss_mb']:,.0f}" + ("" if growth is None else f" (+{growth:,.0f})")


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def machine_line(data: dict) -> str:
    m = data["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v)
    return (
        f"*{m['date_utc']}, {m['cpu']} ({m['cpu_count']} cores, {m['torch_threads']} torch "
        f"thread), load average {m['load_average_1m']:.1f} at start, commit "
        f"{m['git_commit']}; {versions}.*"
    )


def lcm_table(data: dict) -> str:
    rows = []
    for r in (r for r in data["results"] if r["name"] == "next_concept"):
        p = r["params"]
        # Base-LCM regresses and the quantized LCMs pick units: no steps, no guidance
        diffusion = p["model"] in ("one_tower", "two_tower")
        rows.append(
            [
                p["model"],
                str(p["steps"]) if diffusion else "-",
                ("on" if p["guided"] else "off") if diffusion else "-",
                str(p["samples"]),
                str(p["context"]),
                "yes" if p["kv_cache"] else "no",
                f"{r['median_s'] * 1e3:,.1f}",
                f"{r['min_s'] * 1e3:,.1f}",
                f"{p['gflops']:.2f}",
                f"{p['achieved_gflops_per_s']:.1f}",
                _mb(r),
            ]
        )
    header = ["model", "steps", "guidance", "samples", "context", "KV cache", "ms (median)",
              "ms (min)", "GFLOPs", "GFLOP/s", "peak RSS MiB (+run)"]  # fmt: skip
    table = _table(header, rows)
    passes = {"results": [r for r in data["results"] if r["name"] == "denoiser_pass"]}
    if passes["results"]:
        table += "\n\nOne denoiser pass (one DDIM step's network call):\n\n"
        table += rate_table(passes, "passes/s", ["rows", "variant"])
    return table


def rate_table(data: dict, label: str, keys: list[str]) -> str:
    rows = []
    for r in data["results"]:
        p = r["params"]
        cells = [r["name"], *(str(p.get(k, "")) for k in keys)]
        cells += [f"{r['median_s'] * 1e3:,.1f}", f"{r['min_s'] * 1e3:,.1f}"]
        cells += [f"{r['items_per_s']:,.1f}", _mb(r)]
        rows.append(cells)
    header = ["case", *keys, "ms (median)", "ms (min)", label, "peak RSS MiB (+run)"]
    return _table(header, rows)


def segmentation_table(data: dict) -> str:
    """Boundary F1 per backend (rows) and language (columns), then characters/s."""
    results = [r for r in data["results"] if r["name"] == "segment"]
    languages = list(dict.fromkeys(r["params"]["lang"] for r in results))
    names = list(dict.fromkeys(r["params"]["backend"] for r in results))
    cell = {(r["params"]["backend"], r["params"]["lang"]): r for r in results}

    def rows(render) -> list[list[str]]:
        out = []
        for name in names:
            cells = [
                render(cell[name, lang]) if (name, lang) in cell else "-" for lang in languages
            ]
            out.append([f"**{name}**" if name == "app" else name, *cells])
        return out

    counts = ", ".join(f"{lang} {n}" for lang, n in data.get("sentences", {}).items())
    f1 = _table(["backend", *languages], rows(lambda r: f"{r['params']['f1']:.3f}"))
    speed = _table(["backend", *languages], rows(lambda r: f"{r['items_per_s'] / 1e3:,.0f}"))
    return (
        f"Boundary F1 (labelled sentences: {counts}):\n\n{f1}\n\n"
        f"Thousands of characters per second (median):\n\n{speed}"
    )


TABLES = {  # suite -> (title, renderer)
    "lcm": ("LCM: next-concept latency (demo size, random weights)", lcm_table),
    "codec": (
        "Codecs: encode and decode",
        lambda d: rate_table(d, "sentences/s", ["codec", "batch", "beam_size", "max_len"]),
    ),
    "train": (
        "Training throughput",
        lambda d: rate_table(d, "concepts/s", ["recipe", "batch_concepts", "max_len"]),
    ),
    "segmentation": ("Sentence segmentation without SaT (rule-based backends)", segmentation_table),
    "app": (
        "App level (WriterService, SQLite, demo models)",
        lambda d: rate_table(d, "items/s", ["k", "context", "concepts", "nodes"]),
    ),
}


def markdown() -> str:
    parts = []
    for suite, (title, render) in TABLES.items():
        data = _load(suite)
        if data is None:
            parts.append(f"### {title}\n\n(not measured yet: `lcm-writer bench {suite}`)")
            continue
        parts.append(f"### {title}\n\n{machine_line(data)}\n\n{render(data)}")
    return "\n\n".join(parts)
