/* IGVM launch measurement (DESIGN.md §3): one streaming SHA-256 over the
 * record stream documented at igvm_measure() in igvm.h, by OpenSSL's
 * libcrypto. libcrypto is loaded (dlopen) at the first measurement, not
 * linked: only the boot shim and the igvm commands measure, and loading
 * it costs every process that links it ~1.5 MiB of PSS (its relocations
 * and start-up), the host's `parapet run` included.
 *
 * The digest is libcrypto's SHA256_Init/Update/Final, not EVP: EVP's
 * first digest loads OpenSSL's default provider and builds its name
 * maps, 0.75-1 ms of every boot's shim (measured), where these take
 * 6 us. The same SHA-256 code hashes: the provider calls it too. */
#include <dlfcn.h>
#include <openssl/opensslv.h>
#include <openssl/sha.h>
#include <pthread.h>

#include "boot/igvm.h"
#include "boot/igvm_util.h"
#include "lib/log.h"

#define LIBCRYPTO_STR(x)  #x
#define LIBCRYPTO_XSTR(x) LIBCRYPTO_STR(x)
#define LIBCRYPTO_SONAME  "libcrypto.so." LIBCRYPTO_XSTR(OPENSSL_VERSION_MAJOR)

/* Their prototypes in sha.h are marked deprecated (OpenSSL 3 prefers
 * EVP); libcrypto 3 exports them all the same. */
static struct {
	int (*init)(SHA256_CTX *ctx);
	int (*update)(SHA256_CTX *ctx, const void *data, size_t len);
	int (*final)(unsigned char *md, SHA256_CTX *ctx);
} sha;
static pthread_once_t sha_once = PTHREAD_ONCE_INIT;
static bool sha_loaded;

#define SHA_SYM(field, name)                                                   \
	do {                                                                   \
		*(void **)&sha.field = dlsym(h, name);                         \
		if (sha.field == NULL) {                                       \
			log_warnx("%s: no symbol %s", LIBCRYPTO_SONAME, name); \
			return;                                                \
		}                                                              \
	} while (0)

static void sha_load(void)
{
	void *h = dlopen(LIBCRYPTO_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (h == NULL) {
		log_warnx("cannot load %s: %s", LIBCRYPTO_SONAME, dlerror());
		return;
	}
	SHA_SYM(init, "SHA256_Init");
	SHA_SYM(update, "SHA256_Update");
	SHA_SYM(final, "SHA256_Final");
	sha_loaded = true; /* never unloaded: OpenSSL keeps itself resident */
}

static const uint8_t zero_page[IGVM_PAGE_SIZE];

static int hash_page(SHA256_CTX *ctx, const struct igvm_file *f,
		     const struct igvm_header *h)
{
	const uint8_t *data = igvm_page_bytes(f, h);
	uint32_t size = igvm_page_size(h);
	uint8_t rec[1 + 8 + 4 + 2];

	rec[0] = 'P';
	put_le64(rec + 1, h->u.page.gpa);
	put_le32(rec + 9, h->u.page.flags);
	put_le16(rec + 13, h->u.page.data_type);
	if (!sha.update(ctx, rec, sizeof(rec)))
		return -1;
	if (data)
		return sha.update(ctx, data, size) ? 0 : -1;
	for (uint32_t done = 0; done < size; done += IGVM_PAGE_SIZE)
		if (!sha.update(ctx, zero_page, sizeof(zero_page)))
			return -1;
	return 0;
}

static int hash_vp(SHA256_CTX *ctx, const struct igvm_file *f,
		   const struct igvm_header *h)
{
	uint8_t rec[1 + 2 + 4];

	rec[0] = 'V';
	put_le16(rec + 1, h->u.vp.vp_index);
	put_le32(rec + 3, h->u.vp.data_size);
	if (!sha.update(ctx, rec, sizeof(rec)))
		return -1;
	if (!sha.update(ctx, f->buf + h->u.vp.file_offset, h->u.vp.data_size))
		return -1;
	return 0;
}

static int hash_all(SHA256_CTX *ctx, const struct igvm_file *f)
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
	SHA256_CTX ctx;

	_Static_assert(IGVM_MEASUREMENT_SIZE == SHA256_DIGEST_LENGTH,
		       "the measurement is one SHA-256 digest");
	pthread_once(&sha_once, sha_load);
	if (!sha_loaded)
		return IGVM_ERR_NO_MEMORY;
	if (sha.init(&ctx) && !hash_all(&ctx, f) && sha.final(out, &ctx))
		return IGVM_OK;
	return IGVM_ERR_NO_MEMORY;
}
