# services/hostcomm/: parapet-hostcomm, the partition's end of the host
# channel.
HOSTCOMM_SRCS := services/hostcomm/console.c services/hostcomm/work.c
$(eval $(call program,parapet-hostcomm,services/hostcomm/main.c $(HOSTCOMM_SRCS)))

# A stand-in vmworker for the policy/hostcomm e2e tests (not installed).
$(B)/tests/parapet-fake-vmworker: $(call objs,tests/e2e/fake_vmworker.c) \
		$(B)/libparapet.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(B)/libparapet.a $(LDLIBS)
all: $(B)/tests/parapet-fake-vmworker

# The smallest bootable image for the parapet run e2e tests (not installed).
$(B)/tests/igvm-minimal: $(call objs,tests/e2e/igvm_minimal.c) $(B)/libparapet.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(B)/libparapet.a $(LDLIBS)
all: $(B)/tests/igvm-minimal

E2E_TESTS += tests/e2e/run_guests.sh tests/e2e/run_services.sh
