"""Two-Tower LCM latency per generated concept on one GPU, against the memory-bandwidth
limit. Run through benchmarks/gpu.sh; needs only torch, numpy and safetensors.

A generated concept is one `propose` (40 guided DDIM steps, each one denoiser pass over
2 x batch rows) plus one `append` (the concept through the contextualizer). At batch 1
and 16 every denoiser step is bound by reading the denoiser's weights from HBM, so the
floor is (bytes of weights read per step x steps) / bandwidth; the script prints it and
the fraction of it reached, for eager PyTorch, torch.compile, and torch.compile with CUDA
graphs ("reduce-overhead").

Environment: LCMW_BENCH_TINY=1 runs the toy preset in float32 on the CPU (a quick check
of this script), LCMW_BENCH_COMPILE=0 skips the compiled variants, LCMW_BENCH_BUDGET_S
caps the wall time (variants that would start after it are skipped).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

import torch

from benchmarks import flops
from benchmarks.harness import RESULTS_DIR
from engine.lcm import SamplerConfig, build_model, preset

CONTEXT = 32  # concepts already in the document
STEPS = 40
# Peak HBM bandwidth (bytes/s) by device name, from the vendors' data sheets.
HBM_BANDWIDTH = {
    "H200": 4.8e12,
    "H100 PCIe": 2.0e12,
    "H100": 3.35e12,  # SXM5 / HBM3
    "A100-SXM4-80GB": 2.04e12,
    "A100": 1.56e12,
}


def env_flag(name: str, default: bool) -> bool:
    return os.environ.get(name, "1" if default else "0") not in ("0", "", "false", "no")


def peak_bandwidth(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((bw for key, bw in HBM_BANDWIDTH.items() if key in name), None)


def copy_bandwidth(device: torch.device, mib: int = 1024) -> float:
    """Achievable bandwidth: bytes read + written per second by a large device copy."""
    src = torch.empty(mib * 2**20, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    times = []
    for _ in range(6):
        synchronize(device)
        start = time.perf_counter()
        dst.copy_(src)
        synchronize(device)
        times.append(time.perf_counter() - start)
    return 2 * src.numel() / statistics.median(times[1:])


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def weight_bytes(model, dtype: torch.dtype) -> dict[str, int]:
    """Bytes of weights one denoiser step reads (the denoiser without the cross-attention
    key/value projections, which run once per concept), and those read once per concept."""
    size = torch.tensor([], dtype=dtype).element_size()
    per_step_modules = [model.denoiser_prenet, model.time_embed, model.final_norm, model.postnet]
    per_step = sum(p.numel() for m in per_step_modules for p in m.parameters())
    once = sum(p.numel() for p in model.contextualizer.parameters())
    once += sum(p.numel() for p in model.context_prenet.parameters())
    for layer in model.denoiser:
        kv = [*layer.cross_attn.k.parameters(), *layer.cross_attn.v.parameters()]
        kv_numel = sum(p.numel() for p in kv)
        per_step += sum(p.numel() for p in layer.parameters()) - kv_numel
        once += kv_numel
    return {"per_step": per_step * size, "per_concept_once": once * size}


def build(tiny: bool, device: torch.device, dtype: torch.dtype):
    config = preset("toy" if tiny else "two_tower_1.6b")
    torch.manual_seed(0)
    with device:
        model = build_model(config)
    model = model.to(dtype).eval()
    # AdaLN-zero starts at zero gates, which would make the denoiser an identity: give the
    # random model non-zero modulation so every layer does its real work.
    for layer in model.denoiser:
        torch.nn.init.normal_(layer.modulation.weight, std=0.02)
    return model


def timed(fn, device: torch.device, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return times


def run_variant(model, name: str, batch: int, device, repeats: int) -> dict:
    options = SamplerConfig(steps=STEPS, guidance_scale=3.0)
    generator = torch.Generator(device=device).manual_seed(0)
    dtype = model.eot.dtype
    x = torch.randn(batch, CONTEXT, model.dim, device=device, dtype=dtype)
    valid = torch.ones(batch, CONTEXT, dtype=torch.bool, device=device)
    with torch.no_grad():
        state = model.start(x, valid)
        new = model.propose(state, 1, generator, options)[:, 0]  # warm-up (compiles)
        new = model.propose(state, 1, generator, options)[:, 0]
        propose = timed(lambda: model.propose(state, 1, generator, options), device, repeats)

        def append_copy():
            # append mutates the state: time it on a copy of the caches' list structure.
            saved = (list(state.caches), state.valid, state.memory_kv, state.memory_valid)
            copies = [type(c)(c.k, c.v) for c in state.caches]
            state.caches = copies
            model.append(state, new)
            state.caches, state.valid, state.memory_kv, state.memory_valid = saved

        append_copy()
        append = timed(append_copy, device, repeats)
    return {
        "variant": name,
        "batch": batch,
        "propose_ms": 1e3 * statistics.median(propose),
        "append_ms": 1e3 * statistics.median(append),
        "per_concept_ms": 1e3 * (statistics.median(propose) + statistics.median(append)),
    }


def main() -> int:
    tiny = env_flag("LCMW_BENCH_TINY", False)
    budget = float(os.environ.get("LCMW_BENCH_BUDGET_S", "420"))
    began = time.perf_counter()
    if not tiny and not torch.cuda.is_available():
        print("no CUDA device: set LCMW_BENCH_TINY=1 for the CPU check", file=sys.stderr)
        return 2
    device = torch.device("cpu" if tiny else "cuda")
    if tiny:
        torch.set_num_threads(1)  # the CPU check must not fight other jobs for cores
    dtype = torch.float32 if tiny else torch.bfloat16
    model = build(tiny, device, dtype)
    config = model.config
    bytes_ = weight_bytes(model, dtype)
    peak = peak_bandwidth(device)
    achievable = copy_bandwidth(device, 64 if tiny else 2048)
    repeats = 3 if tiny else 10
    print(f"device: {torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu'}")
    print(f"torch {torch.__version__}; preset {'toy' if tiny else 'two_tower_1.6b'}, {dtype}")
    print(f"parameters: {sum(p.numel() for p in model.parameters()):,}")
    print(f"weights read per denoiser step: {bytes_['per_step'] / 1e6:,.1f} MB; once per concept")
    print(f"  (contextualizer, cross-attention K/V): {bytes_['per_concept_once'] / 1e6:,.1f} MB")
    sheet = f"{peak / 1e12:.2f} TB/s" if peak else "unknown for this device"
    print(f"bandwidth: data sheet {sheet}; measured copy {achievable / 1e12:.2f} TB/s")
    bandwidth = peak or achievable  # the hardware limit when known
    floor_s = (STEPS * bytes_["per_step"] + bytes_["per_concept_once"]) / bandwidth
    print(f"memory-bandwidth floor per concept ({STEPS} steps): {floor_s * 1e3:.2f} ms")

    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / ("gpu_tiny_cpu.json" if tiny else "gpu.json")
    payload = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "preset": "toy" if tiny else "two_tower_1.6b",
        "dtype": str(dtype),
        "context_concepts": CONTEXT,
        "steps": STEPS,
        "guidance_scale": 3.0,
        "weight_bytes": bytes_,
        "peak_bandwidth": peak,
        "copy_bandwidth": achievable,
        "floor_ms": floor_s * 1e3,
        "results": [],
    }

    variants = [("eager", None)]
    if env_flag("LCMW_BENCH_COMPILE", not tiny):
        variants += [("compile", "default"), ("compile+cudagraphs", "reduce-overhead")]
    eager_denoise = model.denoise
    for name, mode in variants:
        compiled = mode and torch.compile(eager_denoise, mode=mode, dynamic=False)
        model.denoise = compiled or eager_denoise
        for batch in (1, 16):
            if time.perf_counter() - began > budget:
                print(f"skipping {name} batch {batch}: over the {budget:.0f} s budget")
                continue
            row = run_variant(model, name, batch, device, repeats)
            row["fraction_of_floor"] = floor_s * 1e3 / row["per_concept_ms"]
            flop = flops.per_concept(config, CONTEXT, STEPS, guided=True) * batch
            row["achieved_tflops"] = flop / (row["per_concept_ms"] / 1e3) / 1e12
            print(
                f"{name:>20} batch {batch:>2}: {row['per_concept_ms']:8.2f} ms per concept "
                f"(propose {row['propose_ms']:.2f}, append {row['append_ms']:.2f}); "
                f"{100 * row['fraction_of_floor']:.0f}% of the bandwidth floor; "
                f"{row['achieved_tflops']:.1f} TFLOP/s",
                flush=True,
            )
            # Written after every case: a run cut short by the timeout keeps what it had.
            payload["results"].append(row)
            payload["wall_s"] = time.perf_counter() - began
            out.write_text(json.dumps(payload, indent=2) + "\n")
        torch._dynamo.reset()
    model.denoise = eager_denoise
    print(f"wrote {out} in {time.perf_counter() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
