# services/diag/: parapet-diagd (inside the partition) and the host CLI
# parapet-diag (DESIGN.md §9).
DIAGD_SRCS := services/diag/diagd.c services/diag/diagd_trace.c \
	services/diag/tapread.c \
	services/diag/diagd_inspect.c
$(eval $(call program,parapet-diagd,$(DIAGD_SRCS)))

DIAG_CLI_SRCS := services/diag/diag.c services/diag/diag_trace.c \
	services/diag/diag_view.c
$(eval $(call program,parapet-diag,$(DIAG_CLI_SRCS)))
# `trace --help` prints the tshark command line with the .proto files here.
$(B)/obj/services/diag/diag_trace.o: CPPFLAGS += \
	-DDIAG_PROTO_DIR='"$(abspath proto)"'
E2E_TESTS += tests/e2e/diag.sh
$(eval $(call unit_test,tapread_test,services/diag/tapread.c))
# tests/fuzz/tapread_fuzz.c links the tap reader (outside libparapet).
tapread_FUZZ_SRCS := services/diag/tapread.c
# parapet-diag's views over JSON from diagd (diag_view.c alone).
$(eval $(call unit_test,diag_view_test,services/diag/diag_view.c))
