# missive - build, test and demo.  `make` builds the C module missive/core.so
# against Lua 5.4 and Debian's mbedTLS; `make test` and `make demo` first install
# what is missing (tools/deps.sh) when run as root, else print the apt-get line.

LUA_VERSION    ?= 5.4
ifeq ($(LUA_VERSION),luajit)
LUA            ?= luajit
LUA_INCDIR     ?= /usr/include/luajit-2.1
else
LUA            ?= lua$(LUA_VERSION)
LUA_INCDIR     ?= /usr/include/lua$(LUA_VERSION)
endif
# `make test` runs the specs under each of these (Debian packages, see tools/deps.sh).
LUA_VERSIONS   ?= 5.1 5.2 5.3 5.4 luajit
MBEDTLS_INCDIR ?= /usr/include
MBEDTLS_LIBDIR ?= /usr/lib/x86_64-linux-gnu
PREFIX         ?= /usr/local
LUA_LIBDIR_INSTALL ?= $(PREFIX)/lib/lua/$(LUA_VERSION)
LUA_SHARE_INSTALL  ?= $(PREFIX)/share/lua/$(LUA_VERSION)
BUILD          ?= build/$(LUA)

CC      ?= cc
WARN    := -std=c99 -Wall -Wextra -pedantic -Wshadow -Wmissing-prototypes \
           -Wstrict-prototypes -Wno-overlength-strings
CFLAGS  ?= -O2 -g
# The core, a folder per layer (as BearSSL does): base (buffers, errors, strings),
# net (TLS, connection, drivers, the command/response engine, SASL), mime, and one
# folder per protocol.  Every folder is on the include path.
CORE_DIRS := base net mime smtp pop3 imap
CORE_INC  := $(addprefix -Icsrc/,$(CORE_DIRS))
ALL_CFLAGS = $(CFLAGS) $(WARN) -fPIC -fvisibility=hidden -D_POSIX_C_SOURCE=200809L \
             -I$(MBEDTLS_INCDIR) $(CORE_INC)
# libidn2 (IDNA2008) turns international domains into A-labels; pkg-config knows where
# it lives, plain -lidn2 where pkg-config or its .pc file is missing.
IDN2_LIBS ?= $(shell pkg-config --libs libidn2 2>/dev/null || echo -lidn2)
LDLIBS  := -L$(MBEDTLS_LIBDIR) -lmbedtls -lmbedx509 -lmbedcrypto -lpthread $(IDN2_LIBS)
# Ed25519 DKIM signatures (RFC 8463) through libsodium, when pkg-config finds it
# (Debian libsodium-dev); SODIUM=0 builds without (ed25519-sha256 is then refused).
SODIUM  ?= $(shell pkg-config --exists libsodium 2>/dev/null && echo 1)
ifeq ($(SODIUM),1)
ALL_CFLAGS += -DMV_HAVE_SODIUM $(shell pkg-config --cflags libsodium)
LDLIBS  += $(shell pkg-config --libs libsodium)
endif
SANFLAGS ?=

CORE_SRC := $(sort $(foreach d,$(CORE_DIRS),$(wildcard csrc/$(d)/*.c)))
CORE_HDR := $(foreach d,$(CORE_DIRS),$(wildcard csrc/$(d)/*.h))
BIND_SRC := $(sort $(wildcard csrc/lua/*.c))
CORE_OBJ := $(patsubst csrc/%.c,$(BUILD)/core/%.o,$(CORE_SRC))
BIND_OBJ := $(patsubst csrc/lua/%.c,$(BUILD)/lua/%.o,$(BIND_SRC))
MODULE   := $(BUILD)/missive/core.so
CTESTS   := $(patsubst ctest/%.c,$(BUILD)/ctest/%,$(sort $(wildcard ctest/*_test.c)))

.PHONY: all test test-all test-one test-c test-lua demo bench install clean deps lint \
        luajit-module test-mbedtls3

all: $(MODULE)

$(BUILD)/core/%.o: csrc/%.c $(CORE_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SANFLAGS) -c -o $@ $<

$(BUILD)/lua/%.o: csrc/lua/%.c $(CORE_HDR) $(wildcard csrc/lua/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SANFLAGS) -I$(LUA_INCDIR) -c -o $@ $<

$(MODULE): $(CORE_OBJ) $(BIND_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -shared $(SANFLAGS) -o $@ $^ $(LDLIBS)

# C unit tests link the core only: proof that it needs no Lua.
$(BUILD)/ctest/%: ctest/%.c $(CORE_OBJ) ctest/ctest.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SANFLAGS) -o $@ $< $(CORE_OBJ) $(LDLIBS)

deps:
	@sh tools/deps.sh test

# Each C test appends "passed failed"; a crash (status > 1) counts as one failure.
test-c: $(CTESTS)
	@rm -f $(BUILD)/ctest.counts.tmp; touch $(BUILD)/ctest.counts.tmp; \
	for t in $(CTESTS); do CTEST_COUNTS=$(BUILD)/ctest.counts.tmp $$t; \
	  rc=$$?; [ $$rc -gt 1 ] && echo "0 1" >> $(BUILD)/ctest.counts.tmp; done; \
	awk '{p+=$$1; f+=$$2} END {print p+0, f+0}' $(BUILD)/ctest.counts.tmp > $(BUILD)/ctest.counts

test-lua: $(MODULE) luajit-module
	BUILD=$(BUILD) sh tools/run-specs.sh $(LUA)

# The OpenResty specs load build/luajit/missive/core.so inside nginx, whatever Lua
# busted runs under: every target that runs the specs builds it first.
LUAJIT_INCDIR ?= /usr/include/luajit-2.1
luajit-module:
	@$(MAKE) --no-print-directory all LUA_VERSION=luajit LUA=luajit \
	  LUA_INCDIR=$(LUAJIT_INCDIR) BUILD=build/luajit SANFLAGS= >/dev/null

# mbedTLS 3.6 (TLS 1.3, IP-address SANs; Debian 13's packages unpacked into
# MBEDTLS3_DIR by tools/mbedtls3.sh): the module built against it and the specs under
# Lua 5.4 once more, as "lua5.4+mbedtls3".  MBEDTLS3=0 leaves it out of `make test`.
MBEDTLS3       ?= 1
MBEDTLS3_DIR   ?= build/mbedtls3
MBEDTLS3_BUILD ?= build/lua5.4-mbedtls3
# A setup that fails counts as one failure in the totals.
MBEDTLS3_FAILED = { [ -n "$${MISSIVE_TOTALS:-}" ] && \
	  echo "lua5.4+mbedtls3 0 1 0" >>"$$MISSIVE_TOTALS"; exit 1; }
test-mbedtls3: luajit-module
	@dirs=$$(sh tools/mbedtls3.sh $(MBEDTLS3_DIR)) || $(MBEDTLS3_FAILED); eval "$$dirs"; \
	$(MAKE) --no-print-directory all LUA_VERSION=5.4 BUILD=$(MBEDTLS3_BUILD) \
	  MBEDTLS_INCDIR=$$MBEDTLS_INCDIR MBEDTLS_LIBDIR=$$MBEDTLS_LIBDIR >/dev/null \
	  || $(MBEDTLS3_FAILED); \
	LD_LIBRARY_PATH=$$MBEDTLS_LIBDIR BUILD=$(MBEDTLS3_BUILD) MISSIVE_LABEL=lua5.4+mbedtls3 \
	  sh tools/run-specs.sh lua5.4

# The whole suite: C unit tests once, then every spec under each Lua in LUA_VERSIONS
# (the LuaJIT module is always built: the OpenResty specs load it inside nginx), under
# Lua 5.4 against mbedTLS 3.6 (MBEDTLS3=0 skips it), then the hardening runs
# (HARDENING=0 skips them): the suite under ASan/UBSan, the C tests under valgrind,
# each fuzz target briefly.  The last line sums it all up as
# "N passed, N failed".
HARDENING ?= 1
test: deps
	@$(MAKE) --no-print-directory all test-c
	@for v in $(LUA_VERSIONS) luajit; do \
	  $(MAKE) --no-print-directory all LUA_VERSION=$$v >/dev/null || exit 1; done
	@rm -f build/totals; T=$(CURDIR)/build/totals; for v in $(LUA_VERSIONS); do \
	  $(MAKE) --no-print-directory test-one LUA_VERSION=$$v MISSIVE_TOTALS=$$T || true; done; \
	if [ "$(MBEDTLS3)" = 1 ]; then \
	  $(MAKE) --no-print-directory test-mbedtls3 MISSIVE_TOTALS=$$T || true; fi; \
	if [ "$(HARDENING)" = 1 ]; then \
	  $(MAKE) --no-print-directory hardening-deps || echo "hardening 0 1 0" >>$$T; \
	  $(MAKE) --no-print-directory test-asan MISSIVE_TOTALS=$$T || true; \
	  $(MAKE) --no-print-directory test-valgrind MISSIVE_TOTALS=$$T || true; \
	  $(MAKE) --no-print-directory fuzz-smoke MISSIVE_TOTALS=$$T || true; \
	fi; \
	sh tools/summary.sh build/totals $(BUILD)/ctest.counts

test-all: test

# One Lua: build its module and run the specs (make test-one LUA_VERSION=5.1).
test-one: all luajit-module
	@BUILD=$(BUILD) sh tools/run-specs.sh $(LUA)

demo:
	@sh tools/deps.sh demo
	@$(MAKE) --no-print-directory all
	BUILD=$(BUILD) sh tools/demo.sh $(LUA)

bench: deps all
	@sh tools/deps.sh bench
	BUILD=$(BUILD) sh bench/run.sh $(LUA)

lint:
	luacheck lua spec examples bench

install: all
	install -d $(DESTDIR)$(LUA_LIBDIR_INSTALL)/missive $(DESTDIR)$(LUA_SHARE_INSTALL)/missive
	install -m 755 $(MODULE) $(DESTDIR)$(LUA_LIBDIR_INSTALL)/missive/core.so
	install -m 644 lua/missive/*.lua $(DESTDIR)$(LUA_SHARE_INSTALL)/missive/

clean:
	rm -rf build

-include mk/hardening.mk
