# hookd — see README.md. `make demo` and `make test` install what they need (scripts/bootstrap).
CC      ?= cc
PKGS    := rdkafka libcurl libmongoc-1.0 json-c libsodium libmicrohttpd
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
BASE    := -std=c11 -D_DEFAULT_SOURCE -Iinclude $(WARN)
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

SRCS    := $(wildcard src/*.c)
LIBSRCS := $(filter-out src/main.c,$(SRCS))
HDRS    := $(wildcard include/hookd/*.h)
UNITS   := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))

# Three flavours: release (build/), sanitizers for tests (build/san/), plain -O0 -g for valgrind (build/vg/).
REL_FLAGS := $(BASE) -O2 -g
SAN_FLAGS := $(BASE) -O1 -g $(SAN)
VG_FLAGS  := $(BASE) -O0 -g

.PHONY: all demo test unit unit-valgrind bench docs clang-check clean bootstrap

all: build/hookd

bootstrap:
	@scripts/bootstrap

# Objects per flavour; the binary and every unit test link the same library of modules.
build/obj/%.o: src/%.c $(HDRS) Makefile
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(REL_FLAGS) $(PKG_CFLAGS) -c -o $@ $<
build/san/obj/%.o: src/%.c $(HDRS) Makefile
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(SAN_FLAGS) $(PKG_CFLAGS) -c -o $@ $<
build/vg/obj/%.o: src/%.c $(HDRS) Makefile
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

build/hookd: build/obj/main.o build/libhookd.a
	@echo "  LD      $@"
	@$(CC) $(REL_FLAGS) -o $@ $^ $(PKG_LIBS)

build/san/hookd: build/san/obj/main.o build/san/libhookd.a
	@echo "  LD      $@"
	@$(CC) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)

build/san/test_%: tests/unit/test_%.c tests/unit/unit.h build/san/libhookd.a
	@echo "  CCLD    $@"
	@$(CC) $(SAN_FLAGS) $(PKG_CFLAGS) -Itests/unit -o $@ $< build/san/libhookd.a $(PKG_LIBS)

build/vg/test_%: tests/unit/test_%.c tests/unit/unit.h build/vg/libhookd.a
	@echo "  CCLD    $@"
	@$(CC) $(VG_FLAGS) $(PKG_CFLAGS) -Itests/unit -o $@ $< build/vg/libhookd.a $(PKG_LIBS)

demo: bootstrap build/hookd
	./build/hookd demo

# Everything CI runs: bootstrap, builds (gcc + clang), unit tests under ASan/UBSan and valgrind, real services,
# end-to-end tests. scripts/test owns the service lifecycle so that a failure still stops them.
test: bootstrap
	scripts/test

unit: $(addprefix build/san/,$(UNITS))
	@set -e; for t in $^; do echo "== $$t"; ASAN_OPTIONS=detect_leaks=1 $$t; done

unit-valgrind: $(addprefix build/vg/,$(UNITS))
	@set -e; for t in $^; do echo "== valgrind $$t"; \
	  valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect,possible \
	    --errors-for-leak-kinds=definite,indirect,possible --suppressions=tests/unit/valgrind.supp $$t >/dev/null; done

# Warning-free under clang as well as gcc.
clang-check:
	@mkdir -p build/clang
	@echo "  CLANG   build/clang/hookd"
	@clang $(BASE) -O2 $(PKG_CFLAGS) -o build/clang/hookd $(SRCS) $(PKG_LIBS)

docs: build/hookd
	./build/hookd config --markdown > docs/configuration.md

clean:
	rm -rf build

# Benchmarks (not part of `make test`): see scripts/bench and docs/benchmarks.md.
build/bench/%: tests/bench/%.c
	@mkdir -p build/bench
	@echo "  CCLD    $@"
	@$(CC) $(REL_FLAGS) $(PKG_CFLAGS) -o $@ $< $(PKG_LIBS)

bench: bootstrap build/hookd build/bench/bench_curl build/bench/bench_produce
	scripts/bench
