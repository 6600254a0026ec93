# lib/: helpers shared by every process (log, ipc, supervisor channel, time).
CORE_SRCS += $(wildcard lib/*.c)
$(eval $(call unit_test,log_test))
$(eval $(call unit_test,ipc_test))
$(eval $(call unit_test,supervise_test))
$(eval $(call unit_test,pbjson_test))
$(eval $(call unit_test,pcapng_test))
$(eval $(call unit_test,metrics_test))
$(eval $(call unit_test,registry_test))
$(eval $(call unit_test,util_test))
$(eval $(call unit_test,evqueue_test))
$(eval $(call unit_test,rundir_test))

# tests/pcapng_write: writes a sample capture for the tshark e2e test.
$(B)/tests/pcapng_write: $(call objs,tests/pcapng_write.c) $(B)/libparapet.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(B)/libparapet.a $(LDLIBS)
all: $(B)/tests/pcapng_write
E2E_TESTS += tests/e2e/pcapng_tshark.sh
$(eval $(call unit_test,vhost_user_test))
$(eval $(call unit_test,virtq_test))
