# Shortcuts; the scripts install what they need (system packages included).
.PHONY: test demo
test:
	scripts/test.sh
demo:
	scripts/demo.sh

# Benchmarks (not tests): results are appended to BENCHMARKS.md.
.PHONY: bench bench-seed soak bench-aec bench-tools
bench: bench-seed soak bench-aec bench-tools
bench-seed:
	bash -c 'source scripts/setup.sh test && .venv/bin/python bench/vs_seed.py --trials 5 --cpu-trials 5 --markdown BENCHMARKS.md'
soak:
	bash -c 'source scripts/setup.sh test && .venv/bin/python bench/soak.py --minutes 60 --markdown BENCHMARKS.md'

bench-aec:
	bash -c 'source scripts/setup.sh test && .venv/bin/python bench/aec.py --trials 3 --markdown BENCHMARKS.md && .venv/bin/python bench/aec_product.py --markdown BENCHMARKS.md'

bench-tools:
	bash -c 'source scripts/setup.sh test && .venv/bin/python bench/tools.py --calls 300 --markdown BENCHMARKS.md'
