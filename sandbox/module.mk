# sandbox/: the privilege-drop sequence and seccomp profiles every service
# enters at start (DESIGN.md §7), in libparapet.a.
CORE_SRCS += $(wildcard sandbox/*.c)
$(eval $(call unit_test,sandbox_test))

# sandbox_test runs this helper (beside it in $(B)/tests/) in a child that
# enters the sandbox and then tries allowed and forbidden calls.
$(B)/tests/sandbox_probe: $(call objs,tests/sandbox_probe.c) $(B)/libparapet.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(B)/libparapet.a $(LDLIBS)
$(B)/tests/sandbox_test: $(B)/tests/sandbox_probe
all: $(B)/tests/sandbox_probe
E2E_TESTS += tests/e2e/sandbox.sh tests/e2e/trust.sh
