# Thin wrapper over CMake: `make run` and `make test` are the two commands
# the README promises.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
ASAN_BUILD ?= build-asan
MODEL ?= models/stories260K.gguf
PROMPT ?= Once upon a time

.PHONY: all build run test test-release test-asan fuzz bench clean

all: build

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/llamac run -m $(MODEL) -p "$(PROMPT)" -n 200

test: test-release test-asan

test-release: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan:
	@CC=clang cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DLLAMAC_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS)

fuzz:
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DLLAMAC_SANITIZE=ON -DLLAMAC_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j $(JOBS)
	@echo "fuzzers built in build-fuzz/; run e.g.: mkdir -p /tmp/corpus && build-fuzz/fuzz_gguf -max_total_time=600 /tmp/corpus tests/fuzz/corpus_gguf"

bench: build
	bash bench/run.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
