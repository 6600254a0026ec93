/* IGVM launch measurement (DESIGN.md §3): one streaming SHA-256 over the
 * record stream documented at igvm_measure() in igvm.h. The hash is
 * mbedTLS's: nng already loads libmbedcrypto into every process, where
 * libcrypto would cost the host ~1.4 MiB (its relocations and start-up
 * code) for one hash. */
#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

#include "boot/igvm.h"
#include "boot/igvm_util.h"

/* mbedTLS 2.x names the int-returning calls *_ret; 3.x drops the suffix. */
#if MBEDTLS_VERSION_NUMBER < 0x03000000
#define sha256_starts mbedtls_sha256_starts_ret
#define sha256_update mbedtls_sha256_update_ret
#define sha256_finish mbedtls_sha256_finish_ret
#else
#define sha256_starts mbedtls_sha256_starts
#define sha256_update mbedtls_sha256_update
#define sha256_finish mbedtls_sha256_finish
#endif

static const uint8_t zero_page[IGVM_PAGE_SIZE];

static int hash_page(mbedtls_sha256_context *ctx, const struct igvm_file *f,
		     const struct igvm_header *h)
{
	const uint8_t *data = igvm_page_bytes(f, h);
	uint32_t size = igvm_page_size(h);
	uint8_t rec[1 + 8 + 4 + 2];

	rec[0] = 'P';
	put_le64(rec + 1, h->u.page.gpa);
	put_le32(rec + 9, h->u.page.flags);
	put_le16(rec + 13, h->u.page.data_type);
	if (sha256_update(ctx, rec, sizeof(rec)) != 0)
		return -1;
	if (data)
		return sha256_update(ctx, data, size) != 0 ? -1 : 0;
	for (uint32_t done = 0; done < size; done += IGVM_PAGE_SIZE)
		if (sha256_update(ctx, zero_page, sizeof(zero_page)) != 0)
			return -1;
	return 0;
}

static int hash_vp(mbedtls_sha256_context *ctx, const struct igvm_file *f,
		   const struct igvm_header *h)
{
	uint8_t rec[1 + 2 + 4];

	rec[0] = 'V';
	put_le16(rec + 1, h->u.vp.vp_index);
	put_le32(rec + 3, h->u.vp.data_size);
	if (sha256_update(ctx, rec, sizeof(rec)) != 0)
		return -1;
	if (sha256_update(ctx, f->buf + h->u.vp.file_offset,
			  h->u.vp.data_size) != 0)
		return -1;
	return 0;
}

static int hash_all(mbedtls_sha256_context *ctx, const struct igvm_file *f)
{
	const struct igvm_header *h = NULL;

	while ((h = igvm_next(f, h, IGVM_VHT_PAGE_DATA)))
		if (!(h->u.page.flags & IGVM_PAGE_FLAG_UNMEASURED) &&
		    hash_page(ctx, f, h))
			return -1;
	while ((h = igvm_next(f, h, IGVM_VHT_VP_CONTEXT)))
		if (hash_vp(ctx, f, h))
			return -1;
	return 0;
}

int igvm_measure(const struct igvm_file *f, uint8_t out[IGVM_MEASUREMENT_SIZE])
{
	mbedtls_sha256_context ctx;
	int rc = IGVM_ERR_NO_MEMORY;

	mbedtls_sha256_init(&ctx);
	if (sha256_starts(&ctx, 0) == 0 && !hash_all(&ctx, f) &&
	    sha256_finish(&ctx, out) == 0)
		rc = IGVM_OK;
	mbedtls_sha256_free(&ctx);
	return rc;
}
