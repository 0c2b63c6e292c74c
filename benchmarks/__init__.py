"""Speed, memory and compute benchmarks; `lcm-writer bench` runs them (see run.py)."""
