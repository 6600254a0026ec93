# services/diag/: parapet-diagd (inside the partition) and the host CLI
# parapet-diag (DESIGN.md §9).
DIAGD_SRCS := services/diag/diagd.c services/diag/diagd_trace.c \
	services/diag/diagd_inspect.c
$(eval $(call program,parapet-diagd,$(DIAGD_SRCS)))
