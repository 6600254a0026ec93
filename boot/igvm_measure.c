/* IGVM launch measurement (DESIGN.md §3): one streaming SHA-256 over the
 * record stream documented at igvm_measure() in igvm.h, by OpenSSL's
 * libcrypto. libcrypto is loaded (dlopen) at the first measurement, not
 * linked: only the boot shim and the igvm commands measure, and loading
 * it costs every process that links it ~1.5 MiB of PSS (its relocations
 * and start-up), the host's `parapet run` included. */
#include <dlfcn.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <pthread.h>

#include "boot/igvm.h"
#include "boot/igvm_util.h"
#include "lib/log.h"

#define LIBCRYPTO_STR(x)  #x
#define LIBCRYPTO_XSTR(x) LIBCRYPTO_STR(x)
#define LIBCRYPTO_SONAME  "libcrypto.so." LIBCRYPTO_XSTR(OPENSSL_VERSION_MAJOR)

static struct {
	__typeof__(EVP_MD_CTX_new) *ctx_new;
	__typeof__(EVP_MD_CTX_free) *ctx_free;
	__typeof__(EVP_sha256) *sha256;
	__typeof__(EVP_DigestInit_ex) *init;
	__typeof__(EVP_DigestUpdate) *update;
	__typeof__(EVP_DigestFinal_ex) *final;
} evp;
static pthread_once_t evp_once = PTHREAD_ONCE_INIT;
static bool evp_loaded;

#define EVP_SYM(field, name)                                                   \
	do {                                                                   \
		*(void **)&evp.field = dlsym(h, name);                         \
		if (evp.field == NULL) {                                       \
			log_warnx("%s: no symbol %s", LIBCRYPTO_SONAME, name); \
			return;                                                \
		}                                                              \
	} while (0)

static void evp_load(void)
{
	void *h = dlopen(LIBCRYPTO_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (h == NULL) {
		log_warnx("cannot load %s: %s", LIBCRYPTO_SONAME, dlerror());
		return;
	}
	EVP_SYM(ctx_new, "EVP_MD_CTX_new");
	EVP_SYM(ctx_free, "EVP_MD_CTX_free");
	EVP_SYM(sha256, "EVP_sha256");
	EVP_SYM(init, "EVP_DigestInit_ex");
	EVP_SYM(update, "EVP_DigestUpdate");
	EVP_SYM(final, "EVP_DigestFinal_ex");
	evp_loaded = true; /* never unloaded: OpenSSL keeps itself resident */
}

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
	if (!evp.update(ctx, rec, sizeof(rec)))
		return -1;
	if (data)
		return evp.update(ctx, data, size) ? 0 : -1;
	for (uint32_t done = 0; done < size; done += IGVM_PAGE_SIZE)
		if (!evp.update(ctx, zero_page, sizeof(zero_page)))
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
	if (!evp.update(ctx, rec, sizeof(rec)))
		return -1;
	if (!evp.update(ctx, f->buf + h->u.vp.file_offset, h->u.vp.data_size))
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
	EVP_MD_CTX *ctx;
	unsigned int len = 0;
	int rc = IGVM_ERR_NO_MEMORY;

	pthread_once(&evp_once, evp_load);
	if (!evp_loaded || !(ctx = evp.ctx_new()))
		return rc;
	if (evp.init(ctx, evp.sha256(), NULL) && !hash_all(ctx, f) &&
	    evp.final(ctx, out, &len) && len == IGVM_MEASUREMENT_SIZE)
		rc = IGVM_OK;
	evp.ctx_free(ctx);
	return rc;
}
