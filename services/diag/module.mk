# services/diag/: parapet-diagd (inside the partition) and the host CLI
# parapet-diag (DESIGN.md §9).
DIAGD_SRCS := services/diag/diagd.c services/diag/diagd_trace.c \
	services/diag/tapread.c \
	services/diag/diagd_inspect.c
$(eval $(call program,parapet-diagd,$(DIAGD_SRCS)))

DIAG_CLI_SRCS := services/diag/diag.c services/diag/diag_trace.c \
	services/diag/diag_view.c services/diag/diag_registry.c
$(eval $(call program,parapet-diag,$(DIAG_CLI_SRCS)))

# share/parapet beside bin/, where parapet-diag finds the .proto files and
# the tshark dissector for `trace` (installed under PREFIX/share/parapet).
SHARE := $(B)/share/parapet
SHARE_FILES := $(PROTOS:%=$(SHARE)/%) $(SHARE)/parapet.lua
$(SHARE)/proto/%.proto: proto/%.proto
	@mkdir -p $(@D)
	cp $< $@
# mklua, a build tool (not installed), writes the dissector.
$(B)/tools/mklua: $(call objs,services/diag/mklua.c \
	services/diag/diag_registry.c) $(B)/libparapet.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(B)/libparapet.a $(LDLIBS)
$(SHARE)/parapet.lua: $(B)/tools/mklua
	@mkdir -p $(@D)
	$(B)/tools/mklua $@
all: $(SHARE_FILES)
E2E_TESTS += tests/e2e/diag.sh
$(eval $(call unit_test,tapread_test,services/diag/tapread.c))
# tests/fuzz/tapread_fuzz.c links the tap reader (outside libparapet).
tapread_FUZZ_SRCS := services/diag/tapread.c
# parapet-diag's views over JSON from diagd (diag_view.c alone).
$(eval $(call unit_test,diag_view_test,services/diag/diag_view.c))
