# services/blkd/: parapet-blkd, the vhost-user-blk disk back-end.
BLKD_SRCS := services/blkd/blk.c services/blkd/dev.c services/blkd/listen.c \
	services/blkd/standalone.c
$(eval $(call program,parapet-blkd,services/blkd/main.c $(BLKD_SRCS)))

# A hostile vhost-user front-end for the interop test.
$(B)/tests/parapet-vhost-evil: $(call objs,tests/e2e/vhost_user_evil.c) \
		$(B)/libparapet.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(B)/libparapet.a $(LDLIBS)
all: $(B)/tests/parapet-vhost-evil
E2E_TESTS += tests/e2e/disk_blkd_qemu.sh tests/e2e/disk_hostile.sh \
	tests/e2e/disk_faults.sh
$(eval $(call unit_test,blkd_test,services/blkd/blk.c))

# Starts a service outside a partition with init's FDS message.
$(B)/tests/parapet-svc-launch: $(call objs,tests/e2e/svc_launch.c) \
		$(B)/libparapet.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(B)/libparapet.a $(LDLIBS)
all: $(B)/tests/parapet-svc-launch
E2E_TESTS += tests/e2e/blkd_service.sh
