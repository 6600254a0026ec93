# guests/: freestanding x86-64 test guests. Each is one ELF that boots both
# ways: e_entry (64-bit, for `parapet igvm build`) and a PVH note (qemu).
GUEST_NAMES := hello counter pio_loop mmio_loop smp echo crash evil disk \
	evildisk
GUEST_RT_SRCS := guests/lib/start.S guests/lib/rt.c guests/lib/console.c \
	guests/lib/cmdline.c guests/lib/string.c
GB := $(B)/guests

# Never the host CFLAGS: no hardening, PIE or sanitizers in a guest.
GUEST_CFLAGS := -std=gnu11 -O2 -g $(WARN) -ffreestanding -fno-builtin \
	-fno-stack-protector -fno-pic -fno-pie -mno-red-zone \
	-mgeneral-regs-only -mcmodel=small -fno-asynchronous-unwind-tables \
	-fno-unwind-tables -fno-tree-loop-distribute-patterns -fcf-protection=none \
	-MMD -MP
GUEST_CPPFLAGS := -I. -Iguests/lib -I$(GB)
GUEST_LDFLAGS := -nostdlib -static -no-pie -Wl,--build-id=none \
	-Wl,-z,max-page-size=0x1000 -Wl,-z,noexecstack
guest_objs = $(patsubst %,$(GB)/obj/%.o,$(basename $(1)))
GUEST_RT_OBJS := $(call guest_objs,$(GUEST_RT_SRCS))

# Guests made of more than one file name their other objects here.
GUEST_DISK_OBJS := $(call guest_objs,guests/disk_modes.c \
	guests/lib/virtio_blk.c)
$(GB)/disk.pvh.elf: $(GUEST_DISK_OBJS)
GUEST_VBLK_OBJS := $(call guest_objs,guests/lib/virtio_blk.c)
$(GB)/evildisk.pvh.elf $(GB)/counter.pvh.elf: $(GUEST_VBLK_OBJS)

GUEST_ELFS := $(GUEST_NAMES:%=$(GB)/%.pvh.elf)
.SECONDARY: $(GUEST_RT_OBJS) $(GUEST_NAMES:%=$(GB)/obj/guests/%.o) \
	$(GUEST_DISK_OBJS)
GUEST_IMAGES += $(GUEST_ELFS)
E2E_TESTS += tests/e2e/qemu_guests.sh tests/e2e/disk_qemu.sh

# The assembler and the linker script take guest_abi.h's numbers without
# their C suffixes (ULL).
$(GB)/guest_abi_asm.h: lib/guest_abi.h guests/module.mk
	@mkdir -p $(@D)
	sed -n 's/^#define \(GUEST_[A-Z0-9_]*\) \(0[xX][0-9a-fA-F]*\|[0-9][0-9]*\)[uUlL]*\([ \t].*\)\{0,1\}$$/#define \1 \2/p' $< >$@

$(GB)/guest.ld: guests/lib/guest.ld.S $(GB)/guest_abi_asm.h
	$(CC) -E -P -undef -x c $(GUEST_CPPFLAGS) -o $@ $<

$(GB)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(GUEST_CPPFLAGS) $(GUEST_CFLAGS) -c -o $@ $<

$(GB)/obj/%.o: %.S $(GB)/guest_abi_asm.h
	@mkdir -p $(@D)
	$(CC) $(GUEST_CPPFLAGS) $(GUEST_CFLAGS) -c -o $@ $<

$(GB)/%.pvh.elf: $(GB)/obj/guests/%.o $(GUEST_RT_OBJS) $(GB)/guest.ld
	$(CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -T $(GB)/guest.ld -o $@ \
		$(filter %.o,$^)


# IGVM images, once the host tool exists (host/ lands separately).
$(GB)/smp.igvm: GUEST_IGVM_FLAGS := --vps 4
$(GB)/%.igvm: $(GB)/%.pvh.elf $(B)/bin/parapet
	$(B)/bin/parapet igvm build --guest $< $(GUEST_IGVM_FLAGS) -o $@
ifneq ($(wildcard host/main.c),)
GUEST_IMAGES += $(GUEST_NAMES:%=$(GB)/%.igvm)
endif

.PHONY: guests
guests: $(GUEST_IMAGES)

-include $(shell find $(GB)/obj -name '*.d' 2>/dev/null)
