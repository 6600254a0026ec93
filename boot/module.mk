# boot/: the IGVM library (parse, write, measure) and the paravisor
# configuration format, linked into every binary through libparapet.a.
CORE_SRCS += $(wildcard boot/igvm*.c boot/pvconfig.c boot/loader.c)
$(eval $(call unit_test,igvm_test))
$(eval $(call unit_test,pvconfig_test))
