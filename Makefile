# Thin wrapper over CMake: `make run` and `make test` are the two commands
# the README promises. Each first runs scripts/install-deps.sh, which installs
# the missing Debian packages for building (run, build) or also for the tests
# (test, fuzz); with everything present it is one dpkg-query and no apt-get.
# LLAMAC_NO_INSTALL=1 makes it only report what is missing.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
ASAN_BUILD ?= build-asan
MODEL ?= models/stories260K.gguf
PROMPT ?= Once upon a time

.PHONY: all deps-build deps-test deps-bench build run test test-release test-asan fuzz bench clean
# one thing at a time: apt-get must not run twice at once, and the two test
# builds would only fight over the cores (cmake gets -j itself)
.NOTPARALLEL:

all: build

deps-build:
	@sh scripts/install-deps.sh build

deps-test:
	@sh scripts/install-deps.sh test
	@$(MAKE) --no-print-directory tests/node_modules/.package-lock.json

# The openai npm client of the server tests, at the version the lock file pins;
# reinstalled only when the lock file changes. Without npm those tests skip.
tests/node_modules/.package-lock.json: tests/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  echo "install-deps: npm ci --prefix tests (the openai client for the server tests)"; \
	  npm ci --prefix tests --no-audit --no-fund --loglevel=error; \
	else echo "install-deps: npm not found: the server tests through the openai client will be skipped"; fi

deps-bench:
	@sh scripts/install-deps.sh bench

build: deps-build
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/llamac run -m $(MODEL) -p "$(PROMPT)" -n 200

test: deps-test test-release test-asan

test-release: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: deps-test
	@CC=clang cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DLLAMAC_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS)

fuzz: deps-test
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DLLAMAC_SANITIZE=ON -DLLAMAC_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j $(JOBS)
	@echo "fuzzers built in build-fuzz/; run e.g.: mkdir -p /tmp/corpus && build-fuzz/fuzz_gguf -max_total_time=600 /tmp/corpus tests/fuzz/corpus_gguf"

bench: deps-bench build
	bash bench/run.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
