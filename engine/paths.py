"""Where the repository keeps what the engine, the benchmarks and the tests read: one home
for every asset path."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ASSETS = REPO / "assets"
DEMO_CODEC_DIR = ASSETS / "demo" / "codec"
DEMO_LCM_DIR = ASSETS / "demo" / "lcm"
DEMO_QUANT_LCM_DIR = ASSETS / "demo" / "quant_lcm"  # the demo Quant-LCM-d with its RVQ
LANGUAGES_TSV = ASSETS / "languages.tsv"
EVERYDAY_EN = ASSETS / "eval" / "everyday_en.txt"  # original prose, never trained on
EVERYDAY_PARALLEL = ASSETS / "eval" / "everyday_parallel.tsv"
RECIPES = REPO / "recipes"
SEGMENTATION_GOLD = REPO / "tests" / "data" / "segmentation"  # labelled sentence ends
WORD_LIST = Path("/usr/share/dict/american-english")  # Debian's wamerican (make system-deps)
