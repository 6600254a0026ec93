/* 4-level page walk over guest RAM; every table read is bounds-checked. */
#include "services/vmworker/translate.h"

#include <string.h>

#define PTE_P	 (1ull << 0)
#define PTE_PS	 (1ull << 7)
#define PTE_ADDR 0x000ffffffffff000ull

int translate_gva(const struct guest_ram *ram, uint64_t cr3, uint64_t gva,
		  uint64_t *gpa)
{
	uint64_t table = cr3 & PTE_ADDR;
	int level;

	if ((uint64_t)((int64_t)(gva << 16) >> 16) != gva)
		return -1; /* not canonical */
	for (level = 3; level >= 0; level--) {
		unsigned shift = 12 + 9 * (unsigned)level;
		uint64_t idx = (gva >> shift) & 0x1ff, pte;
		const void *p = guest_ram_ptr(ram, table + idx * 8, 8);

		if (p == NULL)
			return -1;
		memcpy(&pte, p, sizeof(pte));
		if (!(pte & PTE_P))
			return -1;
		if (level == 0 ||
		    ((pte & PTE_PS) && (level == 1 || level == 2))) {
			uint64_t mask = (1ull << shift) - 1;

			*gpa = ((pte & PTE_ADDR) & ~mask) | (gva & mask);
			return 0;
		}
		table = pte & PTE_ADDR;
	}
	return -1;
}
