# digitize: the two commands a new machine needs are `make demo` and `make test`.
.PHONY: setup demo test test-fast lint bench clean

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/digitize demo

test: setup
	.venv/bin/python -m pytest -q
	.venv/bin/python -m pytest -q -m slow

test-fast: setup
	.venv/bin/python -m pytest -q

lint: setup
	.venv/bin/ruff format --check digitize tests samples bench
	.venv/bin/ruff check digitize tests samples bench

bench: setup
	.venv/bin/python bench/pipeline.py

clean:
	rm -rf digitize-data
