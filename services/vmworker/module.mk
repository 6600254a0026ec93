# services/vmworker/: parapet-vmworker (accelerators, VM core, devices).
VMWORKER_SRCS := $(filter-out services/vmworker/main.c,$(wildcard services/vmworker/*.c))
$(eval $(call program,parapet-vmworker,services/vmworker/main.c $(VMWORKER_SRCS)))
$(eval $(call unit_test,uart_test,services/vmworker/uart.c services/vmworker/console.c))
$(eval $(call unit_test,vm_test,$(VMWORKER_SRCS)))
E2E_TESTS += tests/e2e/vmworker_emu.sh tests/e2e/vmworker_kvm.sh
