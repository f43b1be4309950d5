# The README's two commands: `make demo` (set up, then subtitle a clip) and `make test`.
SHELL := /bin/bash
export SCENEGLOT_MODEL_PATH ?= $(abspath ../shared/models)
INPUT ?= ../shared/eval/scenes/cut2.mp4
TO ?= pt
OUT ?= out

.PHONY: setup demo test lint bench clean

setup:
	@bash scripts/setup.sh

demo: setup
	mkdir -p $(OUT)
	.venv/bin/sceneglot translate $(INPUT) --to $(TO) -o $(OUT)/$(basename $(notdir $(INPUT))).$(TO).mp4 --artifacts $(OUT)/$(basename $(notdir $(INPUT)))

test: setup
	.venv/bin/ruff check sceneglot tests benchmarks
	.venv/bin/python -m pytest -q; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected" >&2; exit 1; fi; exit $$rc

lint: setup
	.venv/bin/ruff check sceneglot tests benchmarks

bench: setup
	for b in benchmarks/*.py; do .venv/bin/python $$b || exit 1; done

clean:
	rm -rf .venv .pytest_cache out
