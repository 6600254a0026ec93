/* IGVM launch measurement (DESIGN.md §3): one streaming SHA-256 over the
 * record stream documented at igvm_measure() in igvm.h. */
#include <openssl/evp.h>

#include "boot/igvm.h"
#include "boot/igvm_util.h"

static const uint8_t zero_page[IGVM_PAGE_SIZE];

static int hash_page(EVP_MD_CTX *ctx, const struct igvm_file *f,
		     const struct igvm_header *h)
{
	const uint8_t *data = igvm_page_bytes(f, h);
	uint32_t size = igvm_page_size(h);
	uint8_t rec[1 + 8 + 4 + 2];

	rec[0] = 'P';
	put_le64(rec + 1, h->u.page.gpa);
	put_le32(rec + 9, h->u.page.flags);
	put_le16(rec + 13, h->u.page.data_type);
	if (!EVP_DigestUpdate(ctx, rec, sizeof(rec)))
		return -1;
	if (data)
		return EVP_DigestUpdate(ctx, data, size) ? 0 : -1;
	for (uint32_t done = 0; done < size; done += IGVM_PAGE_SIZE)
		if (!EVP_DigestUpdate(ctx, zero_page, sizeof(zero_page)))
			return -1;
	return 0;
}

static int hash_vp(EVP_MD_CTX *ctx, const struct igvm_file *f,
		   const struct igvm_header *h)
{
	uint8_t rec[1 + 2 + 4];

	rec[0] = 'V';
	put_le16(rec + 1, h->u.vp.vp_index);
	put_le32(rec + 3, h->u.vp.data_size);
	if (!EVP_DigestUpdate(ctx, rec, sizeof(rec)))
		return -1;
	if (!EVP_DigestUpdate(ctx, f->buf + h->u.vp.file_offset,
			      h->u.vp.data_size))
		return -1;
	return 0;
}

static int hash_all(EVP_MD_CTX *ctx, const struct igvm_file *f)
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
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int len = 0;
	int rc = IGVM_ERR_NO_MEMORY;

	if (!ctx)
		return rc;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) && !hash_all(ctx, f) &&
	    EVP_DigestFinal_ex(ctx, out, &len) && len == IGVM_MEASUREMENT_SIZE)
		rc = IGVM_OK;
	EVP_MD_CTX_free(ctx);
	return rc;
}
