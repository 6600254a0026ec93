/* Guest ELF reader for `parapet igvm build`: the PT_LOAD segments and the
 * entry point of an x86-64 ELF64 executable, checked against the file. */
#ifndef PARAPET_ELF_LOAD_H
#define PARAPET_ELF_LOAD_H

#include <stddef.h>
#include <stdint.h>

#define ELF_MAX_SEGMENTS 32

struct elf_segment {
	uint64_t paddr;
	uint64_t memsz;
	uint64_t filesz;
	const uint8_t *data; /* filesz bytes inside the image's file */
};

struct elf_image {
	uint8_t *file;
	size_t file_len;
	uint64_t entry;
	size_t n_segments;
	struct elf_segment segments[ELF_MAX_SEGMENTS]; /* sorted by paddr */
};

enum elf_status {
	ELF_OK = 0,
	ELF_ERR_IO,	/* could not read the file */
	ELF_ERR_FORMAT, /* not a valid x86-64 ELF64 executable */
};

/* Reads path; on error writes a one-line reason to err. */
int elf_load_file(const char *path, struct elf_image *img, char *err,
		  size_t errlen);
/* Same for a buffer the image takes ownership of (freed by
 * elf_image_free, also on error). */
int elf_load_buffer(uint8_t *buf, size_t len, struct elf_image *img, char *err,
		    size_t errlen);
void elf_image_free(struct elf_image *img);

#endif
