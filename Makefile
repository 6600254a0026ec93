# Parapet: the one entry point (deps, all, run, test, bench, fuzz, install,
# uninstall).
# Each directory adds its programs, tests and sources in its own module.mk;
# this file holds the flags and the rules they share.

SAN ?=
ifeq ($(SAN),)
BUILD ?= build
else
BUILD ?= build-san
endif
B := $(BUILD)
PREFIX ?= /usr/local
DESTDIR ?=

CC ?= gcc
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wpointer-arith -Wcast-qual -Wwrite-strings -Wformat=2
ifeq ($(CI),true)
WARN += -Werror
endif
OPT ?= -O2 -g
HARDEN := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
LDHARDEN := -pie -Wl,-z,relro,-z,now -Wl,-z,noexecstack
ifneq ($(SAN),)
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=$(SAN) \
	-fno-sanitize-recover=undefined
LDHARDEN += -fsanitize=$(SAN)
endif

CPPFLAGS := -D_GNU_SOURCE -I. -I$(B)/proto $(if $(SAN),-DPARAPET_SAN=1)
CFLAGS := -std=gnu11 $(OPT) $(WARN) $(HARDEN) -MMD -MP
# Sanitizer builds link LeakSanitizer's suppressions into every binary.
SAN_OBJS := $(if $(SAN),$(B)/obj/tests/lsan_suppressions.o)
LDFLAGS := $(LDHARDEN) -Wl,--as-needed $(SAN_OBJS)
LDLIBS := -lnng -lprotobuf-c -lfdt -lseccomp -lz -ljansson \
	-lpthread -ldl -latomic

# Sources of libparapet.a (lib/, boot/igvm, generated protobuf code).
CORE_SRCS :=
PROGRAMS :=
TESTS :=
BENCHES :=

objs = $(patsubst %.c,$(B)/obj/%.o,$(1))

# $(call program,NAME,SOURCES): build/bin/NAME linked with libparapet.a.
define program
PROGRAMS += $(B)/bin/$(1)
$(B)/bin/$(1): $(call objs,$(2)) $(B)/libparapet.a
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $$(LDFLAGS) -o $$@ $$(filter %.o,$$^) $(B)/libparapet.a $$(LDLIBS)
endef

# $(call unit_test,NAME,EXTRA_SOURCES): tests/NAME.c, cmocka.
define unit_test
TESTS += $(B)/tests/$(1)
$(B)/tests/$(1): $(call objs,tests/$(1).c $(2)) $(B)/libparapet.a
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $$(LDFLAGS) -o $$@ $$(filter %.o,$$^) $(B)/libparapet.a $$(LDLIBS) -lcmocka
endef

# $(call bench,NAME,SOURCES): build/bench/bin/NAME, run by `make bench`.
define bench
BENCHES += $(B)/bench/bin/$(1)
$(B)/bench/bin/$(1): $(call objs,$(2)) $(B)/libparapet.a
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $$(LDFLAGS) -o $$@ $$(filter %.o,$$^) $(B)/libparapet.a $$(LDLIBS)
endef

.PHONY: all deps run test unit e2e bench fuzz soak install uninstall clean \
	format check-format
all:

# Protocol buffers: proto/X.proto -> $(B)/proto/X.pb-c.[ch], never committed.
PROTOS := $(wildcard proto/*.proto)
PROTO_C := $(patsubst proto/%.proto,$(B)/proto/%.pb-c.c,$(PROTOS))
PROTO_H := $(PROTO_C:.c=.h)
$(B)/proto/%.pb-c.c $(B)/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(@D)
	protoc-c --proto_path=proto --c_out=$(B)/proto $<
# Real targets, not intermediates: make would delete them after the first
# build and the next one would regenerate them and recompile everything.
.SECONDARY: $(PROTO_C) $(PROTO_H)
$(B)/obj/$(B)/proto/%.pb-c.o: $(B)/proto/%.pb-c.c $(PROTO_H)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes -c -o $@ $<

include $(sort $(wildcard */module.mk services/*/module.mk tests/*/module.mk))

CORE_OBJS := $(call objs,$(CORE_SRCS)) $(call objs,$(PROTO_C))
$(B)/libparapet.a: $(CORE_OBJS) | $(SAN_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(B)/obj/%.o: %.c | $(PROTO_H)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

all: $(PROGRAMS) $(TESTS) $(BENCHES) $(GUEST_IMAGES)

deps:
	@./scripts/deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	@./scripts/run-demo.sh $(B)

# Unit tests (cmocka) then end-to-end tests; one summary line at the end;
# ... then every fuzz harness for TEST_FUZZ_SECONDS (tests/fuzz/module.mk).
TEST_FUZZ_SECONDS ?= 3
test: deps
	@$(MAKE) --no-print-directory all
	@./scripts/run-tests.sh $(B) $(TESTS) -- $(E2E_TESTS)
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(TEST_FUZZ_SECONDS)

unit: deps
	@$(MAKE) --no-print-directory all
	@./scripts/run-tests.sh $(B) $(TESTS) --

# End-to-end scripts only (with SAN=..., against the sanitizer build).
e2e: deps
	@$(MAKE) --no-print-directory all
	@./scripts/run-tests.sh $(B) -- $(E2E_TESTS)

bench: deps
	@$(MAKE) --no-print-directory all
	@./scripts/run-bench.sh $(B) $(BENCHES)

# What `make install` puts under PREFIX, and `make uninstall` removes:
# the two commands in bin/, the rest of the programs in libexec/parapet/,
# share/parapet (the .proto files and the tshark dissector), the manual
# pages, the bash completion and parapet@.service (docs/operators.md),
# which names PREFIX/bin/parapet.
SYSTEMD_UNIT_DIR ?= $(PREFIX)/lib/systemd/system
INST := $(DESTDIR)$(PREFIX)
INSTALL_BIN := $(filter $(B)/bin/parapet $(B)/bin/parapet-diag,$(PROGRAMS))
INSTALL_LIBEXEC := $(filter-out $(INSTALL_BIN),$(PROGRAMS))
MAN1 := $(wildcard docs/man/*.1)
MAN7 := $(wildcard docs/man/*.7)
COMPLETIONS := $(wildcard docs/completion/*)
COMPLETION_DIR := $(INST)/share/bash-completion/completions
install: all
	install -d $(INST)/bin $(INST)/libexec/parapet $(INST)/share/parapet/proto \
		$(INST)/share/man/man1 $(INST)/share/man/man7 $(COMPLETION_DIR) \
		$(DESTDIR)$(SYSTEMD_UNIT_DIR)
	install -m 0755 $(INSTALL_BIN) $(INST)/bin/
	install -m 0755 $(INSTALL_LIBEXEC) $(INST)/libexec/parapet/
	install -m 0644 $(SHARE)/parapet.lua $(INST)/share/parapet/
	install -m 0644 $(PROTOS:%=$(SHARE)/%) $(INST)/share/parapet/proto/
	install -m 0644 $(MAN1) $(INST)/share/man/man1/
	install -m 0644 $(MAN7) $(INST)/share/man/man7/
	install -m 0644 $(COMPLETIONS) $(COMPLETION_DIR)/
	sed 's|@BINDIR@|$(PREFIX)/bin|g' host/parapet@.service.in >$(B)/parapet@.service
	install -m 0644 $(B)/parapet@.service $(DESTDIR)$(SYSTEMD_UNIT_DIR)/

# tests/e2e/packaging.sh: a second make does nothing, install into a
# DESTDIR, the manual pages, completion and paths, then uninstall.
E2E_TESTS += tests/e2e/packaging.sh

# Exactly what install put there; the shared directories (bin/,
# share/man/man1, ...) stay.
uninstall:
	rm -f $(addprefix $(INST)/bin/,$(notdir $(INSTALL_BIN))) \
		$(addprefix $(INST)/libexec/parapet/,$(notdir $(INSTALL_LIBEXEC))) \
		$(INST)/share/parapet/parapet.lua \
		$(addprefix $(INST)/share/parapet/,$(PROTOS)) \
		$(addprefix $(INST)/share/man/man1/,$(notdir $(MAN1))) \
		$(addprefix $(INST)/share/man/man7/,$(notdir $(MAN7))) \
		$(addprefix $(COMPLETION_DIR)/,$(notdir $(COMPLETIONS))) \
		$(DESTDIR)$(SYSTEMD_UNIT_DIR)/parapet@.service
	rmdir $(INST)/libexec/parapet $(INST)/share/parapet/proto $(INST)/share/parapet

clean:
	rm -rf build build-san build-fuzz $(B)

FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_FILES)
check-format:
	clang-format --dry-run --Werror $(FORMAT_FILES)

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
