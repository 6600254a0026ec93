/* VM reset (on-crash=reboot, `parapet ctl NAME reset`): guest RAM back to
 * the image as the shim loaded it, every VP waiting to start, devices
 * reset. The boot image is the shim's sparse sealed copy of the loaded
 * RAM: only its data extents are copied back; the rest of RAM is freed
 * (it reads as zeros again). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/log.h"
#include "services/vmworker/sidecar.h"
#include "services/vmworker/vm.h"

static int reset_fail(char *err, size_t err_len, const char *what)
{
	snprintf(err, err_len, "%s: %s", what, strerror(errno));
	return -1;
}

/* RAM := zeros, then the image's data extents. */
static int reset_ram(struct vm *vm, int image_fd, char *err, size_t err_len)
{
	uint64_t size = vm->cfg.mem_size;
	off_t off = 0, end;

	if (madvise(vm->mem, size, MADV_REMOVE) != 0)
		memset(vm->mem, 0, size); /* not shmem (tests): by hand */
	while ((off = lseek(image_fd, off, SEEK_DATA)) >= 0) {
		end = lseek(image_fd, off, SEEK_HOLE);
		if (end < 0 || (uint64_t)end > size) {
			snprintf(err, err_len,
				 "boot image extent at 0x%llx past RAM",
				 (unsigned long long)off);
			return -1;
		}
		while (off < end) {
			ssize_t n = pread(image_fd, vm->mem + off,
					  (size_t)(end - off), off);

			if (n <= 0)
				return reset_fail(err, err_len,
						  "reading the boot image");
			off += n;
		}
	}
	if (errno != ENXIO) /* ENXIO: no data past off */
		return reset_fail(err, err_len, "boot image extents");
	return 0;
}

/* Every device back to its power-on state; the table stays. */
static void reset_devices(struct vm *vm)
{
	unsigned i;

	for (i = 0; i < vm->devs.n_entries; i++) {
		const struct dev_entry *e = &vm->devs.entries[i];

		if (e->ops->reset != NULL)
			e->ops->reset(e->ctx, vm);
	}
}

int vm_reset(struct vm *vm, int image_fd, char *err, size_t err_len)
{
	unsigned i;

	if (atomic_load(&vm->state) == VM_STATE_RUNNING) {
		snprintf(err, err_len, "the VM is still running");
		return -1;
	}
	if (image_fd < 0) {
		snprintf(err, err_len, "no boot image (init passed none)");
		return -1;
	}
	if (reset_ram(vm, image_fd, err, err_len) != 0)
		return -1;
	for (i = 0; i < vm->cfg.n_vps; i++) {
		struct vp *vp = &vm->vps[i];

		if (vm->cfg.accel->vp_flush_code != NULL)
			vm->cfg.accel->vp_flush_code(vp->avp);
		atomic_store(&vp->state, VP_NOT_STARTED);
		memset(&vp->start_regs, 0, sizeof(vp->start_regs));
	}
	reset_devices(vm);
	if (vm->sidecar != NULL)
		sidecar_reset(vm->sidecar);
	pthread_mutex_lock(&vm->lock);
	atomic_store(&vm->state, VM_STATE_CREATED);
	atomic_store(&vm->pause_requested, false);
	vm->parked = 0;
	vm->exit_value = 0;
	vm->crash_reason[0] = '\0';
	vm->first_insn_ns = vm->paused_ns = vm->resumed_ns = 0;
	pthread_mutex_unlock(&vm->lock);
	return 0;
}
