# hookd — see README.md. `make demo` and `make test` install what they need (scripts/bootstrap).
CC      ?= cc
# librdkafka is built by scripts/librdkafka (Debian's 2.0.2 cannot bound its pre-fetch without stalling) and
# linked statically, so the binary needs no librdkafka at run time.
RDKAFKA := .cache/librdkafka
PKGS    := rdkafka-static libcurl libmongoc-1.0 json-c libsodium libcrypto libmicrohttpd
PKG_CONFIG := PKG_CONFIG_PATH=$(RDKAFKA)/lib/pkgconfig pkg-config
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
BASE    := -std=c11 -D_DEFAULT_SOURCE -Iinclude $(WARN)
# Third-party headers are system headers: our warnings are not theirs (librdkafka 2.12's has a const int return).
PKG_CFLAGS = $(patsubst -I%,-isystem%,$(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null))
PKG_LIBS   = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) -lpthread -lm
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

SRCS    := $(wildcard src/*.c)
LIBSRCS := $(filter-out src/main.c,$(SRCS))
HDRS    := $(wildcard include/hookd/*.h)
UNITS   := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))

# Three flavours: release (build/), sanitizers for tests (build/san/), plain -O0 -g for valgrind (build/vg/).
REL_FLAGS := $(BASE) -O2 -g
SAN_FLAGS := $(BASE) -O1 -g $(SAN)
VG_FLAGS  := $(BASE) -O0 -g

.PHONY: all demo test unit unit-valgrind bench bench-cost fuzz fuzz-replay bench-match docs clang-check clean bootstrap

all: build/hookd

bootstrap:
	@scripts/bootstrap

RDKAFKA_LIB := $(RDKAFKA)/lib/librdkafka.a
$(RDKAFKA_LIB): scripts/librdkafka
	@scripts/librdkafka >/dev/null

# Objects per flavour; the binary and every unit test link the same library of modules.
build/obj/%.o: src/%.c $(HDRS) Makefile | $(RDKAFKA_LIB)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(REL_FLAGS) $(PKG_CFLAGS) -c -o $@ $<
build/san/obj/%.o: src/%.c $(HDRS) Makefile | $(RDKAFKA_LIB)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(SAN_FLAGS) $(PKG_CFLAGS) -c -o $@ $<
build/vg/obj/%.o: src/%.c $(HDRS) Makefile | $(RDKAFKA_LIB)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(VG_FLAGS) $(PKG_CFLAGS) -c -o $@ $<

LIBOBJS = $(patsubst src/%.c,$(1)/obj/%.o,$(LIBSRCS))

build/libhookd.a: $(call LIBOBJS,build)
	@ar rcs $@ $^
build/san/libhookd.a: $(call LIBOBJS,build/san)
	@ar rcs $@ $^
build/vg/libhookd.a: $(call LIBOBJS,build/vg)
	@ar rcs $@ $^

build/hookd: build/obj/main.o build/libhookd.a $(RDKAFKA_LIB)
	@echo "  LD      $@"
	@$(CC) $(REL_FLAGS) -o $@ $(filter-out $(RDKAFKA_LIB),$^) $(PKG_LIBS)

build/san/hookd: build/san/obj/main.o build/san/libhookd.a $(RDKAFKA_LIB)
	@echo "  LD      $@"
	@$(CC) $(SAN_FLAGS) -o $@ $(filter-out $(RDKAFKA_LIB),$^) $(PKG_LIBS)

build/san/test_%: tests/unit/test_%.c tests/unit/unit.h tests/unit/unit_mongo.h build/san/libhookd.a
	@echo "  CCLD    $@"
	@$(CC) $(SAN_FLAGS) $(PKG_CFLAGS) -Itests/unit -o $@ $< build/san/libhookd.a $(PKG_LIBS)

build/vg/test_%: tests/unit/test_%.c tests/unit/unit.h tests/unit/unit_mongo.h build/vg/libhookd.a
	@echo "  CCLD    $@"
	@$(CC) $(VG_FLAGS) $(PKG_CFLAGS) -Itests/unit -o $@ $< build/vg/libhookd.a $(PKG_LIBS)

demo: bootstrap build/hookd
	./build/hookd demo

# Everything CI runs: bootstrap, builds (gcc + clang), unit tests under ASan/UBSan and valgrind, real services,
# end-to-end tests. scripts/test owns the service lifecycle so that a failure still stops them.
test: bootstrap
	scripts/test

unit: $(addprefix build/san/,$(UNITS)) fuzz-replay
	@set -e; for t in $(addprefix build/san/,$(UNITS)); do echo "== $$t"; ASAN_OPTIONS=detect_leaks=1 $$t; done

# Fuzzing (clang libFuzzer): `make fuzz` runs each target for FUZZ_SECONDS on its corpus in tests/fuzz/corpus/
# (new inputs go to build/fuzz/work-<target>; only those adding coverage are merged into the corpus);
# `make fuzz-replay` (part of `make unit`) replays the corpus without fuzzing, so
# every input that once crashed stays a regression test. A crash found by `make fuzz` is written to
# build/fuzz/crash-*: copy it into the target's corpus directory and fix the code.
FUZZ_TARGETS := decode filter render
FUZZ_SECONDS ?= 30
FUZZ_SRCS    := src/decode.c src/filter.c src/render.c src/rfc3339.c src/utf8.c src/util.c
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_SRCS) $(HDRS) | $(RDKAFKA_LIB)
	@mkdir -p $(@D)
	@echo "  FUZZ    $@"
	@clang $(BASE) -O1 -g -fsanitize=fuzzer,address,undefined $(PKG_CFLAGS) -o $@ $< $(FUZZ_SRCS) $(PKG_LIBS)
build/san/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c tests/fuzz/fuzz.h build/san/libhookd.a
	@echo "  CCLD    $@"
	@$(CC) $(SAN_FLAGS) $(PKG_CFLAGS) -o $@ $< tests/fuzz/replay.c build/san/libhookd.a $(PKG_LIBS)
fuzz: $(addprefix build/fuzz/fuzz_,$(FUZZ_TARGETS))
	@set -e; for t in $(FUZZ_TARGETS); do echo "== fuzz $$t for $(FUZZ_SECONDS) s"; \
	  mkdir -p build/fuzz/work-$$t tests/fuzz/corpus/$$t; \
	  build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -artifact_prefix=build/fuzz/ \
	    -print_final_stats=1 build/fuzz/work-$$t tests/fuzz/corpus/$$t >build/fuzz/$$t.log 2>&1 || \
	    { tail -60 build/fuzz/$$t.log; exit 1; }; \
	  grep -E '^stat::(number_of_executed_units|new_units_added)' build/fuzz/$$t.log; \
	  build/fuzz/fuzz_$$t -merge=1 tests/fuzz/corpus/$$t build/fuzz/work-$$t 2>&1 | grep -E 'MERGE-OUTER: [0-9]+ new files'; \
	done
fuzz-replay: $(addprefix build/san/replay_,$(FUZZ_TARGETS))
	@set -e; for t in $(FUZZ_TARGETS); do ASAN_OPTIONS=detect_leaks=1 build/san/replay_$$t tests/fuzz/corpus/$$t/*; done

# Match cost per event with 1,000 and 100,000 subscriptions (docs/benchmarks.md, "Matching").
build/bench/bench_match: tests/bench/bench_match.c build/libhookd.a
	@mkdir -p build/bench
	@echo "  CCLD    $@"
	@$(CC) $(REL_FLAGS) $(PKG_CFLAGS) -o $@ $< build/libhookd.a $(PKG_LIBS)
# What applying one subscription change costs with N subscriptions (docs/capacity.md).
build/bench/bench_apply: tests/bench/bench_apply.c build/libhookd.a
	@mkdir -p build/bench
	@echo "  CCLD    $@"
	@$(CC) $(REL_FLAGS) $(PKG_CFLAGS) -o $@ $< build/libhookd.a $(PKG_LIBS)
bench-match: build/bench/bench_match
	./build/bench/bench_match

unit-valgrind: $(addprefix build/vg/,$(UNITS))
	@set -e; for t in $^; do echo "== valgrind $$t"; \
	  valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect,possible \
	    --errors-for-leak-kinds=definite,indirect,possible --suppressions=tests/unit/valgrind.supp $$t >/dev/null; done

# Warning-free under clang as well as gcc.
clang-check: | $(RDKAFKA_LIB)
	@mkdir -p build/clang
	@echo "  CLANG   build/clang/hookd"
	@clang $(BASE) -O2 $(PKG_CFLAGS) -o build/clang/hookd $(SRCS) $(PKG_LIBS)

# Every C file formatted by .clang-format: `make format` rewrites them, `make format-check` (in `make test`) fails on
# any difference.
FORMATTED := $(SRCS) $(HDRS) $(wildcard tests/unit/*.[ch] tests/fuzz/*.[ch] tests/bench/*.c)
format:
	@clang-format -i $(FORMATTED)
format-check:
	@clang-format --dry-run --Werror $(FORMATTED)

docs: build/hookd
	./build/hookd config --markdown > docs/configuration.md

clean:
	rm -rf build

# Benchmarks (not part of `make test`): see scripts/bench and docs/benchmarks.md.
build/bench/%: tests/bench/%.c | $(RDKAFKA_LIB)
	@mkdir -p build/bench
	@echo "  CCLD    $@"
	@$(CC) $(REL_FLAGS) $(PKG_CFLAGS) -o $@ $< $(PKG_LIBS)

bench: bootstrap build/hookd build/bench/bench_curl build/bench/bench_produce build/bench/bench_consume
	scripts/bench

# The deterministic part alone: instructions per delivery under callgrind against a bare libcurl POST (3-5 min).
bench-cost: bootstrap build/hookd build/bench/bench_curl build/bench/bench_produce
	scripts/bench --only cost
