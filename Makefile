# Two commands matter: `make demo` and `make test`. Both create the environment first.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DB ?= runs/demo-db

.PHONY: venv demo test bench clean fonts

$(BIN)/ocrsearch: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	# torch first, alone: pip then takes the local CPU wheel instead of resolving it with everything else.
	$(BIN)/pip install -q "torch>=2.4,<=2.14.1" "torchvision<=0.29.1"
	$(BIN)/pip install -q -e ".[test]"
	# pip compiles the libraries it installs, not an editable project; shells that set
	# PYTHONDONTWRITEBYTECODE would otherwise compile ours at every command's start (~50 ms).
	$(BIN)/python -m compileall -q ocrsearch binarizer detector recognizer data
	touch $@

venv: $(BIN)/ocrsearch

demo: venv
	rm -rf $(DEMO_DB)
	$(BIN)/ocrsearch ingest examples/ --db $(DEMO_DB)
	$(BIN)/ocrsearch search "budget" --db $(DEMO_DB)
	$(BIN)/ocrsearch search "meeting" --db $(DEMO_DB)

test: venv
	$(BIN)/python -m pytest tests

fonts: venv
	$(BIN)/ocrsearch data fonts

clean:
	rm -rf $(VENV) runs/demo-db
