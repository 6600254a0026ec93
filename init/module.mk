# init/: parapet-init, PID 1 of a partition; the e2e tests of the
# partition (parapet run -> parapet-boot -> parapet-init) and their test
# service.
INIT_SRCS := init/main.c init/setup.c init/service.c init/control.c \
	init/logring.c init/standby.c init/hostfds.c init/supervisor.c \
	init/verprobe.c
$(eval $(call program,parapet-init,$(INIT_SRCS)))
$(eval $(call unit_test,init_service_test,init/supervisor.c))

# A service for the e2e tests only (not installed): $(B)/tests/.
$(B)/tests/parapet-test-service: $(call objs,tests/e2e/test_service.c) \
		$(B)/libparapet.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(B)/libparapet.a $(LDLIBS)
all: $(B)/tests/parapet-test-service

E2E_TESTS += $(wildcard tests/e2e/partition_*.sh)

# The IPC probe of tests/e2e/trust.sh (caller matrix) and diag.sh (bad
# requests to diagd): not installed.
$(B)/tests/parapet-ipc-probe: $(call objs,tests/e2e/ipc_probe.c) \
		$(B)/libparapet.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(B)/libparapet.a $(LDLIBS)
all: $(B)/tests/parapet-ipc-probe

# tests/e2e/upgrade.sh: a vmworker that reads only a saved-state version
# this build does not write (not installed).
$(B)/tests/parapet-fake-newer: $(call objs,tests/e2e/fake_newer.c)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^)
all: $(B)/tests/parapet-fake-newer
# init's --version probe of a binary servicing will run.
$(eval $(call unit_test,verprobe_test,init/verprobe.c))
$(B)/obj/tests/verprobe_test.o: CPPFLAGS += -DTEST_BUILD_DIR='"$(B)"'
