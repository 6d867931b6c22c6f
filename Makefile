# EventStreamMonitor-C: one non-recursive GNU Makefile. Build output goes to build/.
#
#   make            build every program and test binary
#   make run        install missing packages, build, start the local stack (var/run)
#   make stop       stop the local stack
#   make test       install, build, start a private test stack (var/test), run every test
#   make bench      benchmarks against ceilings measured in the same run
#   make SANITIZE=address,undefined test   the same under sanitizers
#
# Sources are discovered: shared/*.c is the library, fcgi/<svc>/*.c becomes
# build/bin/esm-<svc>, worker/<name>/*.c becomes build/bin/esm-<name>,
# tests/unit/*.c one CUnit binary, tests/integration/*.c another.

CC       ?= cc
# make V=1 shows the full command lines.
V ?=
Q := $(if $(V),,@)
SANITIZE ?=
# make run KAFKA=apache: the stack on a real Apache Kafka broker instead of
# the embedded one (make test uses Apache Kafka unless KAFKA=embedded).
KAFKA    ?=
ifneq ($(KAFKA),)
export ESM_KAFKA := $(KAFKA)
endif
PKGS     := fcgi rdkafka libcjson libpq libsodium libcurl
B        := build

WARN     := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
            -Wmissing-prototypes -Wpointer-arith -Wcast-qual -Wvla -Wno-unused-parameter
HARDEN   := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE -fno-strict-overflow
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE $(WARN) $(HARDEN) -Ishared -MMD -MP
LDFLAGS  += -pie -Wl,-z,relro,-z,now
ifneq ($(SANITIZE),)
CFLAGS   += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -U_FORTIFY_SOURCE
LDFLAGS  += -fsanitize=$(SANITIZE)
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS     += $(PKG_CFLAGS)
LDLIBS     += $(PKG_LIBS) -lpthread -lm
CUNIT_LIBS := $(shell pkg-config --libs cunit 2>/dev/null)

SHARED_SRC := $(wildcard shared/*.c)
SHARED_OBJ := $(SHARED_SRC:%.c=$(B)/%.o)
LIB        := $(B)/libesm.a

FCGI_SVCS  := $(notdir $(patsubst %/,%,$(dir $(wildcard fcgi/*/main.c))))
WORKERS    := $(notdir $(patsubst %/,%,$(dir $(wildcard worker/*/main.c))))
PROGS      := $(FCGI_SVCS:%=$(B)/bin/esm-%) $(WORKERS:%=$(B)/bin/esm-%)

UNIT_SRC   := $(wildcard tests/unit/*.c)
UNIT_BIN   := $(B)/tests/unit-tests
# Unit tests link the pure parts of the programs too (everything but main.c).
PROG_LIB_SRC := $(filter-out %/main.c,$(wildcard fcgi/*/*.c worker/*/*.c))
INTEG_SRC  := $(wildcard tests/integration/*.c)
INTEG_BIN  := $(B)/tests/integration-tests

.PHONY: all deps run stop test test-faults test-unit soak test-integration bench clean status
.DEFAULT_GOAL := all

all: $(PROGS) $(UNIT_BIN) $(INTEG_BIN)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(if $(V),,@echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(LIB): $(SHARED_OBJ)
	@mkdir -p $(dir $@)
	$(Q)$(AR) rcs $@ $^

.SECONDARY:
.SECONDEXPANSION:
# (% inside the prerequisite would be the stem again: hence basename/addsuffix.)
$(B)/bin/esm-%: $$(addsuffix .o,$$(addprefix $(B)/,$$(basename $$(wildcard fcgi/$$*/*.c worker/$$*/*.c)))) $(LIB)
	@mkdir -p $(dir $@)
	$(if $(V),,@echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIB) $(LDLIBS)

# The unit binary links every program file but main.c, so the pure parts of the
# services and workers are tested directly. Hence a rule for program sources:
# every non-static symbol carries its program's prefix (users_, auth_, relay_...).
UNIT_PROG_OBJ := $(PROG_LIB_SRC:%.c=$(B)/%.o)

$(UNIT_BIN): $(UNIT_SRC:%.c=$(B)/%.o) $(UNIT_PROG_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(if $(V),,@echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIB) $(CUNIT_LIBS) $(LDLIBS)

$(INTEG_BIN): $(INTEG_SRC:%.c=$(B)/%.o) $(LIB)
	@mkdir -p $(dir $@)
	$(if $(V),,@echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIB) $(CUNIT_LIBS) $(LDLIBS)

# Benchmark helpers: the bare FastCGI ceiling and the argon2id hash rate.
BENCH_BINS := $(B)/bench/esm-bare $(B)/bench/hashrate $(B)/bench/soak
$(B)/bench/esm-bare: $(B)/tests/bench/bare.o
	@mkdir -p $(dir $@)
	$(if $(V),,@echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/bench/soak: $(B)/tests/soak/soak.o
	@mkdir -p $(dir $@)
	$(if $(V),,@echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/bench/hashrate: $(B)/tests/bench/hashrate.o $(LIB)
	@mkdir -p $(dir $@)
	$(if $(V),,@echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Fuzzers (libFuzzer, clang): the real shared code with an in-memory HTTP
# transport (tests/fuzz/fake_http.c) in place of the libfcgi glue; the
# worker fuzzers also get an in-memory database (tests/fuzz/fake_db.c) in
# place of libpq. fuzz_<name>_SRC: the program sources a harness links;
# fuzz_<name>_LIB, when set, replaces FUZZ_LIBSRC.
#   dispatch  request front line on the user and token services' tables
#   json      strict JSON reader, field tables, identity answers
#   token     access and refresh token verification
#   notifier  event messages: parse, render, mail, store; the topic list
#   logcollector  log record batches: parse, counts, error rows, offsets
#   relay     delivery reports: error text, id lists of the marking statements
FUZZ_CC     := clang
FUZZ_CFLAGS := -g -O1 -std=c11 -D_GNU_SOURCE -Ishared -MMD -MP $(PKG_CFLAGS) \
               -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
FUZZ_LIBSRC := $(filter-out shared/http.c,$(SHARED_SRC)) tests/fuzz/fake_http.c
FUZZ_DBLIB  := $(filter-out shared/db.c,$(FUZZ_LIBSRC)) tests/fuzz/fake_db.c
FUZZ_PROG   := $(filter-out %/main.c,$(wildcard fcgi/users/*.c fcgi/auth/*.c))
FUZZERS     := dispatch json token notifier logcollector relay
fuzz_dispatch_SRC := fcgi/users/routes.c fcgi/auth/routes.c fcgi/tasks/routes.c
fuzz_json_SRC     := $(FUZZ_PROG)
fuzz_token_SRC    :=
fuzz_notifier_SRC := worker/notifier/handle.c worker/notifier/store.c
fuzz_notifier_LIB := $(FUZZ_DBLIB)
fuzz_logcollector_SRC := worker/logcollector/handle.c
fuzz_logcollector_LIB := $(FUZZ_DBLIB)
fuzz_relay_SRC    := worker/relay/handle.c
fuzz_relay_LIB    := $(FUZZ_DBLIB)
FUZZ_BINS   := $(FUZZERS:%=$(B)/fuzz/fuzz_%)

$(B)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(B)/fuzz/fuzz_%: $$(addsuffix .o,$$(addprefix $(B)/fuzz/obj/,$$(basename tests/fuzz/fuzz_$$*.c $$(fuzz_$$*_SRC) $$(or $$(fuzz_$$*_LIB),$(FUZZ_LIBSRC)))))
	$(Q)$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(PKG_LIBS) -lpthread -lm

.PHONY: fuzz fuzz-build
fuzz-build: $(FUZZ_BINS)
# make fuzz FUZZ_SECONDS=300: each fuzzer for that long (default 60).
fuzz: deps
	@$(MAKE) --no-print-directory fuzz-build
	@FUZZ_SECONDS=$${FUZZ_SECONDS:-60} tests/fuzz/run.sh

deps:
	@scripts/deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	@scripts/stack.sh start run

stop:
	@scripts/stack.sh stop run

status:
	@scripts/stack.sh status run

test: deps
	@$(MAKE) --no-print-directory all
	@ESM_SANITIZE=$(SANITIZE) tests/run.sh

# The fault suite alone (it is part of make test too).
test-faults: deps
	@$(MAKE) --no-print-directory all
	@ESM_TEST_ONLY="faults faults_cluster" tests/run.sh

test-unit: all
	@$(UNIT_BIN)

bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_BINS)
	@tests/bench/run.sh

# Ten minutes of paced load; the report lands in docs/soak.md. Not in CI.
soak: deps
	@$(MAKE) --no-print-directory all $(BENCH_BINS)
	@tests/soak/soak.sh

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
