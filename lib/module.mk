# lib/: helpers shared by every process (log, ipc, supervisor channel, time).
CORE_SRCS += $(wildcard lib/*.c)
$(eval $(call unit_test,log_test))
$(eval $(call unit_test,ipc_test))
$(eval $(call unit_test,supervise_test))
$(eval $(call unit_test,pbjson_test))
