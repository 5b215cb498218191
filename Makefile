# BusBase -- one flat, non-recursive Makefile (STYLE.md §8).
#
#   make            release build of every binary into bin/
#   make run        install missing Debian packages, build, start everything
#   make test       unit tests under ASan+UBSan, then the integration suite
#   make bench      wrk benchmarks against a freshly started launcher
#   make fuzz       libFuzzer targets (FUZZ_SECONDS each, default 60)
#   make lint       clang-format check + cppcheck
#   make deps       install the Debian packages (deploy/install-deps.sh)
#   make clean

CC      ?= cc
CSTD     = -std=c17 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
WARN     = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wvla -Wimplicit-fallthrough -Wconversion -Wundef -Wpointer-arith \
           -Wcast-qual -Wnull-dereference -fno-common
REL      = -O2 -g -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
DBG      = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
INC      = -Iproto -Ilibcommon
PKGS     = libmicrohttpd jansson libsodium sqlite3 msgpack liboath libcurl
PKGCFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LIBS    := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lnng -lpthread -lm
LDREL    = -pie -Wl,-z,relro,-z,now

SERVICES = auth data storage hooks admin

# ---- sources -------------------------------------------------------------
LC_SRC   := $(filter-out %_test.c,$(wildcard libcommon/*.c))
GW_SRC   := $(filter-out %_test.c,$(wildcard gateway/*.c))
GW_LIB   := $(filter-out gateway/main.c,$(GW_SRC))
LAUNCH_SRC := $(filter-out %_test.c,$(wildcard deploy/launcher/*.c))
CTL_SRC  := $(filter-out %_test.c,$(wildcard deploy/ctl/*.c))
svc_src   = $(filter-out %_test.c,$(wildcard services/$(1)/*.c))
svc_lib   = $(filter-out services/$(1)/main.c,$(call svc_src,$(1)))

DEFS     := $(wildcard proto/*.def)
HDRS     := $(wildcard libcommon/*.h gateway/*.h services/*/*.h deploy/*/*.h)

rel_obj   = $(patsubst %.c,build/rel/%.o,$(1))
dbg_obj   = $(patsubst %.c,build/dbg/%.o,$(1))

BINS     = bin/busbase bin/busbase-gateway bin/busbasectl \
           $(foreach s,$(SERVICES),bin/busbase-$(s))

.PHONY: all run test unit integration bench fuzz lint deps deps-test clean tsan
all: $(BINS)

# ---- object rules --------------------------------------------------------
build/rel/%.o: %.c $(HDRS) $(DEFS)
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(REL) $(INC) $(PKGCFLAGS) -c $< -o $@

build/dbg/%.o: %.c $(HDRS) $(DEFS)
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(DBG) $(INC) $(PKGCFLAGS) -c $< -o $@

build/rel/libcommon.a: $(call rel_obj,$(LC_SRC))
	@rm -f $@; ar rcs $@ $^
build/dbg/libcommon.a: $(call dbg_obj,$(LC_SRC))
	@rm -f $@; ar rcs $@ $^

# ---- binaries ------------------------------------------------------------
bin/busbase-gateway: $(call rel_obj,$(GW_SRC)) build/rel/libcommon.a
	@mkdir -p bin
	$(CC) $(REL) $(LDREL) -o $@ $^ $(LIBS)

bin/busbase: $(call rel_obj,$(LAUNCH_SRC)) build/rel/libcommon.a
	@mkdir -p bin
	$(CC) $(REL) $(LDREL) -o $@ $^ $(LIBS)

bin/busbasectl: $(call rel_obj,$(CTL_SRC)) build/rel/libcommon.a
	@mkdir -p bin
	$(CC) $(REL) $(LDREL) -o $@ $^ $(LIBS)

define svc_bin
bin/busbase-$(1): $$(call rel_obj,$$(call svc_src,$(1))) build/rel/libcommon.a
	@mkdir -p bin
	$$(CC) $$(REL) $$(LDREL) -o $$@ $$^ $$(LIBS)
endef
$(foreach s,$(SERVICES),$(eval $(call svc_bin,$(s))))

# ---- unit tests (cmocka, ASan+UBSan) ------------------------------------
# A test foo_test.c links the non-main objects of its own directory and the
# debug libcommon.
LC_TESTS  := $(patsubst %.c,build/dbg/test/%,$(wildcard libcommon/*_test.c))
GW_TESTS  := $(patsubst %.c,build/dbg/test/%,$(wildcard gateway/*_test.c))
SVC_TESTS := $(patsubst %.c,build/dbg/test/%,$(wildcard services/*/*_test.c))
UNIT_TESTS = $(LC_TESTS) $(GW_TESTS) $(SVC_TESTS)

build/dbg/test/libcommon/%_test: libcommon/%_test.c build/dbg/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(DBG) $(INC) $(PKGCFLAGS) -o $@ $^ -lcmocka $(LIBS)

build/dbg/test/gateway/%_test: gateway/%_test.c $(call dbg_obj,$(GW_LIB)) build/dbg/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(DBG) $(INC) $(PKGCFLAGS) -o $@ $^ -lcmocka $(LIBS)

define svc_test
build/dbg/test/services/$(1)/%_test: services/$(1)/%_test.c $$(call dbg_obj,$$(call svc_lib,$(1))) build/dbg/libcommon.a
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CSTD) $$(WARN) $$(DBG) $$(INC) $$(PKGCFLAGS) -o $$@ $$^ -lcmocka $$(LIBS)
endef
$(foreach s,$(SERVICES),$(eval $(call svc_test,$(s))))

# ---- dependencies --------------------------------------------------------
NEED_HDRS = /usr/include/nng/nng.h /usr/include/microhttpd.h /usr/include/msgpack.h \
            /usr/include/jansson.h /usr/include/sodium.h /usr/include/sqlite3.h \
            /usr/include/cmocka.h /usr/include/liboath/oath.h
deps:
	sh deploy/install-deps.sh
deps-test:
	@for f in $(NEED_HDRS); do [ -f $$f ] || { sh deploy/install-deps.sh --test; break; }; done
	@for t in wrk oathtool python3 clang; do command -v $$t >/dev/null || { sh deploy/install-deps.sh --test; break; }; done
	@command -v promtool >/dev/null || [ -x build/tools/usr/bin/promtool ] || sh deploy/install-deps.sh --test

# ---- run / test ----------------------------------------------------------
run:
	@for f in $(NEED_HDRS); do [ -f $$f ] || { sh deploy/install-deps.sh; break; }; done
	@$(MAKE) --no-print-directory all
	exec ./bin/busbase

unit: $(UNIT_TESTS)
	@sh tests/run-unit.sh $(UNIT_TESTS)

integration: all
	@python3 tests/integration/run.py

test: deps-test
	@$(MAKE) --no-print-directory all $(UNIT_TESTS)
	@sh tests/run-all.sh "$(UNIT_TESTS)"

# Threaded unit tests under ThreadSanitizer (gcc); nng itself is not
# instrumented, so races reported inside libnng are not ours.
TSAN = -O1 -g -fno-omit-frame-pointer -fsanitize=thread
TSAN_TESTS = libcommon/lc_bus_test libcommon/lc_settings_test libcommon/lc_ids_test libcommon/lc_metrics_test
tsan:
	@mkdir -p build/tsan
	@for t in $(TSAN_TESTS); do \
	  n=$$(basename $$t); \
	  $(CC) $(CSTD) $(WARN) $(TSAN) $(INC) $(PKGCFLAGS) -o build/tsan/$$n $$t.c $(LC_SRC) -lcmocka $(LIBS) || exit 1; \
	  TSAN_OPTIONS="halt_on_error=0" ./build/tsan/$$n >/dev/null 2>build/tsan/$$n.log; \
	  echo "tsan: $$n rc=$$? ($$(grep -c 'WARNING: ThreadSanitizer' build/tsan/$$n.log) reports, see build/tsan/$$n.log)"; \
	done

bench: deps-test all
	@sh tests/bench/run.sh

# ---- fuzzing (clang + libFuzzer) ----------------------------------------
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined $(CSTD) $(INC) $(PKGCFLAGS)
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_LIB := $(LC_SRC) $(GW_LIB) services/data/query.c services/data/fieldrules.c
build/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB) $(HDRS) $(DEFS)
	@mkdir -p build/fuzz
	clang $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_LIB) $(LIBS)
fuzz: deps-test $(FUZZ_TARGETS)
	@for t in $(FUZZ_TARGETS); do \
	  n=$$(basename $$t); mkdir -p build/fuzz/corpus-$$n; \
	  echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
	  $$t -max_total_time=$(FUZZ_SECONDS) -detect_leaks=1 build/fuzz/corpus-$$n tests/fuzz/seeds/$$n 2>&1 | tail -3 || exit 1; \
	done

# ---- lint ---------------------------------------------------------------
lint:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
	  $(INC) --suppress=missingIncludeSystem libcommon gateway services deploy

clean:
	rm -rf build/rel build/dbg build/fuzz bin
