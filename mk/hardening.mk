# mk/hardening.mk - sanitizer, valgrind and fuzzing targets.
# Included from the end of the main Makefile; reuses its pattern rules through
# recursive makes with BUILD, CFLAGS and SANFLAGS set.
#
#   make test-asan       core + module under ASan/UBSan (build/asan), C tests and the
#                        whole busted suite with that module, LSan on
#   make test-valgrind   the C unit tests under valgrind --leak-check=full
#   make fuzz            every libFuzzer target for FUZZ_SECONDS (default 60)
#   make fuzz-smoke      every target for about 5 s (CI)
#   make test-alloc      allocation-failure injection over a whole SMTP send and a POP3
#                        retrieve, under ASan + LSan (every failure clean, no leak)
#   make checklist-audit CHECKLIST items without a spec
#
# Debian packages these targets need (installed by `make hardening-deps` when root):
#   clang libclang-rt-14-dev (libFuzzer + clang's sanitizer runtimes), valgrind,
#   gcc (libasan8 libubsan1 come with it).

HARDENING_PKGS  := clang libclang-rt-14-dev valgrind
ASAN_BUILD      ?= build/asan
ASAN_CFLAGS     ?= -O1 -g
ASAN_SANFLAGS   ?= -fsanitize=address,undefined -fno-sanitize-recover=undefined \
                   -fno-omit-frame-pointer
# The runtime that must come first in an uninstrumented lua5.4 process.
ASAN_RUNTIME    = $(shell $(CC) -print-file-name=libasan.so)
LSAN_SUPP       := $(CURDIR)/mk/lsan.supp
# exitcode differs from a test's own 1 so that test-c counts a report as a failure.
ASAN_ENV        = ASAN_OPTIONS=detect_leaks=1:exitcode=86:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1 \
                  LSAN_OPTIONS=suppressions=$(LSAN_SUPP):print_suppressions=0 \
                  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=87

VALGRIND        ?= valgrind
VALGRIND_FLAGS  ?= --suppressions=$(CURDIR)/mk/valgrind.supp --leak-check=full \
                   --show-leak-kinds=definite,indirect,possible \
                   --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=1 -q

FUZZ_CC         ?= clang
FUZZ_BUILD      ?= build/fuzz
FUZZ_SECONDS    ?= 60
FUZZ_SMOKE_SECONDS ?= 5
# Every UBSan check is on; FUZZ_UB_STRICT=0 would leave out NULL + 0 and
# memcpy(d, NULL, 0) on empty buffers (fixed where fuzzing found them; fuzz/README).
FUZZ_UB_STRICT  ?= 1
FUZZ_UB_SKIP    := $(if $(filter 1,$(FUZZ_UB_STRICT)),,-fno-sanitize=pointer-overflow,nonnull-attribute)
FUZZ_FLAGS      := -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
                   $(FUZZ_UB_SKIP) -fno-sanitize-recover=undefined -std=c99 -Wall -Wextra \
                   -D_POSIX_C_SOURCE=200809L -I$(MBEDTLS_INCDIR) $(CORE_INC) $(FUZZ_EXTRA_CFLAGS)
# FUZZ_EXTRA_CFLAGS: extra flags for the fuzz targets.
FUZZ_EXTRA_CFLAGS ?=
FUZZ_TARGETS    := $(patsubst fuzz/%.c,%,$(sort $(wildcard fuzz/fuzz_*.c)))
FUZZ_BINS       := $(addprefix $(FUZZ_BUILD)/,$(FUZZ_TARGETS))

.PHONY: test-asan test-valgrind fuzz fuzz-smoke fuzz-build hardening-deps \
        checklist-audit test-alloc

hardening-deps:
	@missing=""; for p in $(HARDENING_PKGS); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y --no-install-recommends $$missing; \
	  else echo "hardening: missing packages; run: sudo apt-get install$$missing" >&2; \
	  exit 1; fi; fi

# --- ASan / UBSan / LSan ----------------------------------------------------------
# lua5.4 is not instrumented, so the ASan runtime is preloaded into it; a tiny
# preloaded helper then drops LD_PRELOAD from the environment, so the shells, servers
# and scripted-server interpreters the specs spawn run without the runtime, and makes
# dlclose a no-op so that a leak in missive/core.so is reported with its symbols.
$(ASAN_BUILD)/unpreload.so:
	@mkdir -p $(dir $@)
	printf '%s\n' '#include <stdlib.h>' \
	  'static void __attribute__((constructor)) mv_unpreload(void) { unsetenv("LD_PRELOAD"); }' \
	  '/* lua_close dlcloses C modules: keep them mapped so leak traces stay symbolised. */' \
	  'int dlclose(void *h); int dlclose(void *h) { (void)h; return 0; }' \
	  > $(ASAN_BUILD)/unpreload.c
	$(CC) -shared -fPIC -O1 -o $@ $(ASAN_BUILD)/unpreload.c

$(ASAN_BUILD)/$(LUA)-asan: $(ASAN_BUILD)/unpreload.so
	printf '%s\n' '#!/bin/sh' \
	  'LD_PRELOAD="$(ASAN_RUNTIME) $(CURDIR)/$(ASAN_BUILD)/unpreload.so" exec $(LUA) "$$@"' > $@
	chmod +x $@

test-asan: $(ASAN_BUILD)/$(LUA)-asan luajit-module
	@$(MAKE) --no-print-directory BUILD=$(ASAN_BUILD) CFLAGS="$(ASAN_CFLAGS)" \
	  SANFLAGS="$(ASAN_SANFLAGS)" all
	@$(ASAN_ENV) $(MAKE) --no-print-directory BUILD=$(ASAN_BUILD) CFLAGS="$(ASAN_CFLAGS)" \
	  SANFLAGS="$(ASAN_SANFLAGS)" test-c
	@if [ -n "$${MISSIVE_TOTALS:-}" ]; then \
	  read -r p f <$(ASAN_BUILD)/ctest.counts; echo "asan-C $$p $$f 0" >>"$$MISSIVE_TOTALS"; fi
	$(ASAN_ENV) BUILD=$(ASAN_BUILD) MISSIVE_LABEL=asan sh tools/run-specs.sh $(ASAN_BUILD)/$(LUA)-asan

# --- allocation failures -----------------------------------------------------------
test-alloc:
	@$(MAKE) --no-print-directory BUILD=$(ASAN_BUILD) CFLAGS="$(ASAN_CFLAGS)" \
	  SANFLAGS="$(ASAN_SANFLAGS)" $(ASAN_BUILD)/ctest/alloc_fail_test
	$(ASAN_ENV) $(ASAN_BUILD)/ctest/alloc_fail_test

# --- valgrind ---------------------------------------------------------------------
test-valgrind: $(CTESTS)
	@fail=0; ok=0; for t in $(CTESTS); do \
	  echo "valgrind $$t"; \
	  if $(VALGRIND) $(VALGRIND_FLAGS) $$t >/dev/null; then ok=$$((ok + 1)); \
	  else echo "FAIL (valgrind): $$t"; fail=$$((fail + 1)); fi; \
	done; \
	if [ -n "$${MISSIVE_TOTALS:-}" ]; then echo "valgrind $$ok $$fail 0" >>"$$MISSIVE_TOTALS"; fi; \
	[ $$fail -eq 0 ]

# --- libFuzzer ----------------------------------------------------------------------
# The core is built again with clang (coverage for libFuzzer, ASan, UBSan); each
# fuzz/fuzz_<name>.c links against all of it.  fuzz/run.sh runs the binaries.
FUZZ_CORE_OBJ := $(patsubst csrc/%.c,$(FUZZ_BUILD)/core/%.o,$(CORE_SRC))

$(FUZZ_BUILD)/core/%.o: csrc/%.c $(CORE_HDR)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(subst -fsanitize=fuzzer,-fsanitize=fuzzer-no-link,$(FUZZ_FLAGS)) -c -o $@ $<

$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz_common.h $(FUZZ_CORE_OBJ)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(FUZZ_CORE_OBJ) $(LDLIBS)

.SECONDARY: $(FUZZ_CORE_OBJ)

fuzz-build: hardening-deps
	@$(MAKE) --no-print-directory $(FUZZ_BINS)

fuzz: fuzz-build
	FUZZ_BUILD=$(FUZZ_BUILD) sh fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke: fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) sh fuzz/run.sh $(FUZZ_SMOKE_SECONDS) $(FUZZ_TARGETS) \
	  | tee $(FUZZ_BUILD)/smoke.log; \
	ok=$$(grep -c ', ok$$' $(FUZZ_BUILD)/smoke.log); \
	bad=$$(( $(words $(FUZZ_TARGETS)) - ok )); \
	if [ -n "$${MISSIVE_TOTALS:-}" ]; then echo "fuzz $$ok $$bad 0" >>"$$MISSIVE_TOTALS"; fi; \
	[ $$bad -eq 0 ]
