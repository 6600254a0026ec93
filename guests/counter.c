/* counter: prints 0, 1, 2, ... one number per line, delay_ms apart by the
 * timestamp port (default 10), count= numbers (default: forever); with
 * stamp=1 each line also carries the guest's clock in µs ("N T"), so a
 * pause shows as a gap. With disk=1, before each line N it writes a
 * sector of N's to the first disk (sector N mod 2048) and reads it back:
 * a failure, a timeout (60 s) or other data ends it with one line saying
 * so. Proves the guest (and its disk) keeps running across service
 * restarts. */
#include "guest.h"
#include "virtio_blk.h"

#define COUNTER_DISK_SECTORS 2048u

static struct vblk disk;
static uint64_t sect[VBLK_SECTOR / 8] __attribute__((aligned(VBLK_SECTOR)));

static int counter_disk_init(void)
{
	enum vblk_err err;

	vblk_set_timeout_ms(60000);
	err = vblk_find(0, &disk);
	if (!err)
		err = vblk_probe(&disk);
	if (!err)
		err = vblk_start(&disk);
	if (err)
		gprintf("counter: disk: %s\n", vblk_strerror(err));
	return err ? -1 : 0;
}

/* Sector n mod COUNTER_DISK_SECTORS holds n's, written then read back. */
static int counter_disk(uint64_t n)
{
	uint64_t lba = n % COUNTER_DISK_SECTORS;
	unsigned int i;
	int r;

	for (i = 0; i < VBLK_SECTOR / 8; i++)
		sect[i] = n;
	r = vblk_sync(&disk, VIRTIO_BLK_T_OUT, lba, sect, VBLK_SECTOR);
	if (r == 0) {
		memset(sect, 0, sizeof(sect));
		r = vblk_sync(&disk, VIRTIO_BLK_T_IN, lba, sect, VBLK_SECTOR);
	}
	if (r != 0) {
		gprintf("counter: disk: request at %llu: %s %d\n",
			(unsigned long long)n, r < 0 ? "error" : "status",
			r < 0 ? -r : r);
		return -1;
	}
	for (i = 0; i < VBLK_SECTOR / 8; i++)
		if (sect[i] != n) {
			gprintf("counter: disk: sector %llu holds %llu, want "
				"%llu\n",
				(unsigned long long)lba,
				(unsigned long long)sect[i],
				(unsigned long long)n);
			return -1;
		}
	return 0;
}

int guest_main(void)
{
	uint64_t delay_ms = cmdline_u64("delay_ms", 10);
	uint64_t count = cmdline_u64("count", 0);
	int forever = !cmdline_has("count");
	int stamp = cmdline_u64("stamp", 0) != 0;
	int use_disk = cmdline_u64("disk", 0) != 0;
	uint64_t n;

	if (delay_ms && !ts_present()) {
		gprintf("counter: no timestamp port; cannot pause\n");
		delay_ms = 0;
	}
	if (use_disk && counter_disk_init() != 0)
		return 2;
	for (n = 0; forever || n < count; n++) {
		if (use_disk && counter_disk(n) != 0)
			return 1;
		if (stamp)
			gprintf("%llu %u\n", (unsigned long long)n,
				ts_now_us());
		else
			gprintf("%llu\n", (unsigned long long)n);
		if (delay_ms)
			ts_delay_us((uint32_t)(delay_ms * 1000));
	}
	return 0;
}
