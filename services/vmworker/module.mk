# services/vmworker/: parapet-vmworker (accelerators, VM core, devices).
VMWORKER_SRCS := $(filter-out services/vmworker/main.c,$(wildcard services/vmworker/*.c))
$(eval $(call program,parapet-vmworker,services/vmworker/main.c $(VMWORKER_SRCS)))
$(eval $(call unit_test,uart_test,services/vmworker/uart.c services/vmworker/console.c))
$(eval $(call unit_test,exception_test,services/vmworker/exception.c services/vmworker/translate.c))
$(eval $(call unit_test,vm_test,$(VMWORKER_SRCS)))
$(eval $(call unit_test,devices_test,$(VMWORKER_SRCS)))
$(eval $(call unit_test,virtio_blk_test,$(VMWORKER_SRCS)))
E2E_TESTS += tests/e2e/vmworker_emu.sh tests/e2e/vmworker_kvm.sh
# bench/exit links the VM worker (for its accelerator probe) and, for its
# bare baseline only, libunicorn directly.
$(eval $(call bench,exit,bench/exit.c bench/exit_bare.c bench/proc.c bench/report.c $(VMWORKER_SRCS)))
$(B)/bench/bin/exit: LDLIBS += -lunicorn
$(eval $(call unit_test,sidecar_test,$(VMWORKER_SRCS)))
$(eval $(call bench,sidecar,bench/sidecar.c bench/proc.c bench/report.c))
$(eval $(call unit_test,savestate_test,$(VMWORKER_SRCS)))
# The live test boots the counter guest from this build.
$(B)/obj/tests/savestate_test.o: CPPFLAGS += -DTEST_BUILD_DIR='"$(B)"'
$(B)/tests/savestate_test: $(B)/guests/counter.igvm
E2E_TESTS += tests/e2e/servicing.sh tests/e2e/reboot.sh tests/e2e/upgrade.sh
$(eval $(call bench,servicing,bench/servicing.c bench/proc.c bench/report.c))
E2E_TESTS += tests/e2e/disk.sh
# The emu accelerator's stop scheme, checked on libunicorn itself.
$(eval $(call unit_test,emu_stop_test,))
$(B)/tests/emu_stop_test: LDLIBS += -lunicorn
