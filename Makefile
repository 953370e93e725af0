# digitize: `make demo` and `make test` run scripts/demo.sh and scripts/test.sh.
.PHONY: setup demo test test-fast lint bench clean

setup:
	@bash scripts/setup.sh

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh

test-fast:
	bash scripts/setup.sh --test
	.venv/bin/python -m pytest -q

lint:
	bash scripts/setup.sh --test
	.venv/bin/ruff format --check digitize tests samples bench
	.venv/bin/ruff check digitize tests samples bench

bench: setup
	.venv/bin/python bench/pipeline.py

clean:
	rm -rf digitize-data
