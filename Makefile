# The human entry points (README "Quick start"). Everything else is CMake + ctest + scripts/.
#   make demo    build, generate a demo electorate once, start the embedded server on :8000
#   make demo-distributed   the same election on the distributed shape (PostgreSQL, Redis,
#                RabbitMQ, api on :8000, 2 validators, aggregator); Ctrl-C stops everything
#   make test    install what is missing, build, run every test suite (unit, integration, browser)
#   make bench   benchmarks (QUICK=1 for the short smoke version)

BUILD_DIR ?= build/release
PRESET    ?= release
JOBS      ?= $(shell nproc)
SCRUTIN   := $(BUILD_DIR)/src/apps/scrutin

.PHONY: all deps build build-sanitized build-tsan demo demo-distributed test bench clean format asan

# CI (.ci/run sets CI=true) builds with warnings as errors.
WERROR := $(if $(CI),-DSCRUTIN_WERROR=ON,)

all: build

deps:
	@scripts/install-deps --quiet

build: deps
	@cmake --preset $(PRESET) $(WERROR) >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)

demo: build
	@scripts/demo $(SCRUTIN)

demo-distributed: build
	@scripts/demo-distributed $(SCRUTIN)

# The asan preset's build of what the sanitize suites run inside the main ctest run: every unit
# suite (sanitize.unit; a unit executable missing here shows up there as <name>_NOT_BUILT, failing)
# and the binary (sanitize.serve). The server suites (pg, redis, rmq) are not built under ASan.
ASAN_TARGETS := scrutin apps_test core_test http_test loadgen_test memory_test \
                metrics_test offline_test pipeline_test ports_testing_test postgres_unit_test \
                rabbitmq_unit_test redis_unit_test sqlite_test
build-sanitized: deps
	@cmake --preset asan $(WERROR) >/dev/null
	@cmake --build build/asan -j $(JOBS) --target $(ASAN_TARGETS)

# The tsan preset's build of what the threaded suites need (ctest's tsan.unit and tsan.serve, which
# skip when it is absent). Built by `make test` (about 9 minutes on 2 cores).
TSAN_TARGETS := scrutin http_test pipeline_test sqlite_test metrics_test
build-tsan: deps
	@cmake --preset tsan $(WERROR) >/dev/null
	@cmake --build build/tsan -j $(JOBS) --target $(TSAN_TARGETS)

# ctest prints the closing count line ("100% tests passed, 0 tests failed out of N").
test: build build-sanitized build-tsan
	@scripts/e2e-deps
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 900 $(CTEST_ARGS)

bench: build
	@scripts/bench $(BUILD_DIR) $(if $(QUICK),--quick,)

asan:
	@$(MAKE) test PRESET=asan BUILD_DIR=build/asan

format:
	@find src tests bench -name '*.cpp' -o -name '*.hpp' | xargs clang-format -i

clean:
	rm -rf build
