# tests/fuzz/: libFuzzer harnesses. `make fuzz [FUZZ_SECONDS=N]` builds
# every tests/fuzz/NAME_fuzz.c with clang (separate from the gcc build,
# objects in build-fuzz/) linked with all of libparapet's sources, and runs
# each for FUZZ_SECONDS with the seed corpus tests/fuzz/corpus/NAME/ (new
# inputs go to build-fuzz/corpus/NAME/), and tests/fuzz/NAME.dict as its
# libFuzzer dictionary when present. A harness that needs more sources
# lists them in NAME_FUZZ_SRCS. Crashes are written to build-fuzz/.
FUZZ_SECONDS ?= 10
# Harnesses over sources outside libparapet (the shim, the VM worker).
host_dt_FUZZ_SRCS := boot/shim_config.c
uart_FUZZ_SRCS := services/vmworker/uart.c services/vmworker/console.c
mailbox_FUZZ_SRCS := $(VMWORKER_SRCS)
sidecar_FUZZ_SRCS := $(VMWORKER_SRCS)
savestate_FUZZ_SRCS := $(VMWORKER_SRCS)
hostchan_FUZZ_SRCS := host/hostchan.c tests/fuzz/fuzz_ipc.c
hostcomm_FUZZ_SRCS := $(HOSTCOMM_SRCS) tests/fuzz/fuzz_ipc.c
blkd_FUZZ_SRCS := services/blkd/blk.c
diag_FUZZ_SRCS := $(DIAGD_SRCS) $(DIAG_CLI_SRCS) tests/fuzz/fuzz_ipc.c
FUZZ_B := build-fuzz
FUZZ_CC ?= clang
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS := -std=gnu11 -g -O1 -fno-omit-frame-pointer $(FUZZ_SAN) \
	-D_GNU_SOURCE -DPARAPET_FUZZ=1 -I. -I$(FUZZ_B)/proto -MMD -MP
FUZZ_HARNESSES := $(sort $(wildcard tests/fuzz/*_fuzz.c))
FUZZ_NAMES := $(patsubst tests/fuzz/%_fuzz.c,%,$(FUZZ_HARNESSES))
FUZZ_PROTO_C := $(patsubst proto/%.proto,$(FUZZ_B)/proto/%.pb-c.c,$(PROTOS))
FUZZ_CORE_OBJS := $(patsubst %.c,$(FUZZ_B)/obj/%.o,$(CORE_SRCS)) \
	$(patsubst %.c,$(FUZZ_B)/obj/%.o,$(FUZZ_PROTO_C))

$(FUZZ_B)/proto/%.pb-c.c $(FUZZ_B)/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(@D)
	protoc-c --proto_path=proto --c_out=$(FUZZ_B)/proto $<

$(FUZZ_B)/obj/%.o: %.c | $(FUZZ_PROTO_C:.c=.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

# diagd's and parapet-diag's main() would replace libFuzzer's.
$(FUZZ_B)/obj/services/diag/diagd.o: FUZZ_CFLAGS += -Dmain=diagd_main
$(FUZZ_B)/obj/services/diag/diag.o: FUZZ_CFLAGS += -Dmain=diag_main

$(FUZZ_B)/lib.a: $(FUZZ_CORE_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

# $(call fuzz_harness,NAME)
define fuzz_harness
$(FUZZ_B)/$(1)_fuzz: $(FUZZ_B)/obj/tests/fuzz/$(1)_fuzz.o \
		$(patsubst %.c,$(FUZZ_B)/obj/%.o,$($(1)_FUZZ_SRCS)) $(FUZZ_B)/lib.a
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $$@ $$^ $(LDLIBS)
endef
$(foreach n,$(FUZZ_NAMES),$(eval $(call fuzz_harness,$(n))))

.PHONY: fuzz-build
fuzz-build: $(patsubst %,$(FUZZ_B)/%_fuzz,$(FUZZ_NAMES))

fuzz: fuzz-build
	@rc=0; for n in $(FUZZ_NAMES); do \
		mkdir -p $(FUZZ_B)/corpus/$$n $(FUZZ_B)/artifacts/$$n; \
		seeds=tests/fuzz/corpus/$$n; [ -d $$seeds ] || seeds=; \
		dict=tests/fuzz/$$n.dict; \
		[ -f $$dict ] && dict=-dict=$$dict || dict=; \
		log=$(FUZZ_B)/$$n.log; \
		echo "== fuzz $$n for $(FUZZ_SECONDS)s (log: $$log)"; \
		if $(FUZZ_B)/$${n}_fuzz -max_total_time=$(FUZZ_SECONDS) \
			-print_final_stats=1 $$dict \
			-artifact_prefix=$(FUZZ_B)/artifacts/$$n/ \
			$(FUZZ_B)/corpus/$$n $$seeds >$$log 2>&1; then \
			grep -E '^stat::number_of_executed_units' $$log; \
			echo "[  PASSED  ] $$n"; \
		else \
			tail -n 40 $$log; echo "[  FAILED  ] $$n"; rc=1; \
		fi; \
	done; exit $$rc

-include $(shell find $(FUZZ_B)/obj -name '*.d' 2>/dev/null)

# Generated protobuf code is needed again by the next build: keep it.
.PRECIOUS: $(FUZZ_B)/proto/%.pb-c.c $(FUZZ_B)/proto/%.pb-c.h
