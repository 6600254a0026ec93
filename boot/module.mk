# boot/: the IGVM library (parse, write, measure), the paravisor
# configuration format and the VM flags (vmopts), linked into every binary
# through libparapet.a; the shim parapet-boot (shim*.c, handoff.c).
CORE_SRCS += $(wildcard boot/igvm*.c boot/pvconfig.c boot/loader.c) \
	boot/pvopts.c boot/vmopts.c
SHIM_SRCS := boot/shim.c boot/shim_config.c boot/shim_resolve.c \
	boot/shim_dt.c boot/handoff.c
$(eval $(call program,parapet-boot,$(SHIM_SRCS)))
$(eval $(call unit_test,igvm_test))
$(eval $(call unit_test,pvconfig_test))
$(eval $(call unit_test,pvopts_test))
$(eval $(call unit_test,vmopts_test))
$(eval $(call unit_test,shim_config_test,boot/shim_config.c))
