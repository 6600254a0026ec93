/* Guest ELF reader: validates the ELF header and program headers against
 * the file size and collects the PT_LOAD segments. */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/elf_load.h"
#include "lib/util.h"

#define ELF_MAX_FILE (1ULL << 30)

static int set_err(char *err, size_t errlen, int rc, const char *msg)
{
	snprintf(err, errlen, "%s", msg);
	return rc;
}

static int check_ehdr(const Elf64_Ehdr *eh, size_t len, char *err,
		      size_t errlen)
{
	if (len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
		return set_err(err, errlen, ELF_ERR_FORMAT, "not an ELF file");
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB || eh->e_machine != EM_X86_64)
		return set_err(err, errlen, ELF_ERR_FORMAT,
			       "not an x86-64 little-endian ELF64 file");
	if (eh->e_type != ET_EXEC)
		return set_err(err, errlen, ELF_ERR_FORMAT,
			       "not an executable (ET_EXEC) ELF file");
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 ||
	    eh->e_phoff > len ||
	    (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > len - eh->e_phoff)
		return set_err(err, errlen, ELF_ERR_FORMAT,
			       "program headers outside the file");
	return ELF_OK;
}

static int add_segment(struct elf_image *img, const Elf64_Phdr *ph, char *err,
		       size_t errlen)
{
	struct elf_segment *s;

	if (ph->p_offset > img->file_len ||
	    ph->p_filesz > img->file_len - ph->p_offset)
		return set_err(err, errlen, ELF_ERR_FORMAT,
			       "PT_LOAD data outside the file");
	if (ph->p_filesz > ph->p_memsz ||
	    ph->p_paddr + ph->p_memsz < ph->p_paddr)
		return set_err(err, errlen, ELF_ERR_FORMAT,
			       "PT_LOAD sizes invalid");
	if (img->n_segments == ELF_MAX_SEGMENTS)
		return set_err(err, errlen, ELF_ERR_FORMAT,
			       "too many PT_LOAD segments");
	s = &img->segments[img->n_segments++];
	s->paddr = ph->p_paddr;
	s->memsz = ph->p_memsz;
	s->filesz = ph->p_filesz;
	s->data = img->file + ph->p_offset;
	return ELF_OK;
}

static int cmp_segment(const void *a, const void *b)
{
	const struct elf_segment *x = a, *y = b;

	return x->paddr < y->paddr ? -1 : x->paddr > y->paddr;
}

static int collect_segments(struct elf_image *img, const Elf64_Ehdr *eh,
			    char *err, size_t errlen)
{
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr ph;
		int rc;

		memcpy(&ph, img->file + eh->e_phoff + i * sizeof(ph),
		       sizeof(ph));
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		rc = add_segment(img, &ph, err, errlen);
		if (rc)
			return rc;
	}
	if (img->n_segments == 0)
		return set_err(err, errlen, ELF_ERR_FORMAT,
			       "no PT_LOAD segment");
	qsort(img->segments, img->n_segments, sizeof(img->segments[0]),
	      cmp_segment);
	for (size_t i = 1; i < img->n_segments; i++) {
		const struct elf_segment *a = &img->segments[i - 1];

		if (a->paddr + a->memsz > img->segments[i].paddr)
			return set_err(err, errlen, ELF_ERR_FORMAT,
				       "PT_LOAD segments overlap");
	}
	return ELF_OK;
}

int elf_load_buffer(uint8_t *buf, size_t len, struct elf_image *img, char *err,
		    size_t errlen)
{
	Elf64_Ehdr eh;
	int rc;

	memset(img, 0, sizeof(*img));
	img->file = buf;
	img->file_len = len;
	if (len >= sizeof(eh))
		memcpy(&eh, buf, sizeof(eh));
	rc = check_ehdr(&eh, len, err, errlen);
	if (!rc)
		rc = collect_segments(img, &eh, err, errlen);
	if (rc) {
		elf_image_free(img);
		return rc;
	}
	img->entry = eh.e_entry;
	return ELF_OK;
}

int elf_load_file(const char *path, struct elf_image *img, char *err,
		  size_t errlen)
{
	uint8_t *buf;
	size_t len;
	int rc = util_read_file(path, ELF_MAX_FILE, &buf, &len);

	memset(img, 0, sizeof(*img));
	if (rc != UTIL_READ_OK) {
		snprintf(err, errlen, "%s", util_read_strerror(rc));
		return ELF_ERR_IO;
	}
	return elf_load_buffer(buf, len, img, err, errlen);
}

void elf_image_free(struct elf_image *img)
{
	free(img->file);
	memset(img, 0, sizeof(*img));
}
