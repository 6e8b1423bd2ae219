/* cosign signatures checked with OpenSSL: a PEM public key (ECDSA, RSA,
 * Ed25519) and a base64 signature over the payload's bytes. */
#include <errno.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base/base.h"
#include "image/policy_int.h"

static char *key_fpr(EVP_PKEY *k)
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(k, &der);
	if (n <= 0)
		return xstrdup("?");
	unsigned char md[32];
	unsigned int mdn = 0;
	(void)EVP_Digest(der, (size_t)n, md, &mdn, EVP_sha256(), NULL);
	OPENSSL_free(der);
	char *out = xmalloc(7 + 64 + 1);
	memcpy(out, "SHA256:", 7);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
	return out;
}

int image_sigstore_verify(const char *pem, size_t pem_len, const char *payload, size_t len,
			  const char *b64sig, char **ret_fpr, struct err *err)
{
	if (pem_len > INT32_MAX)
		return err_msg(err, -EINVAL, "public key file too large");
	BIO *bio = BIO_new_mem_buf(pem, (int)pem_len);
	EVP_PKEY *k = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	ERR_clear_error();
	if (!k)
		return err_msg(err, -EINVAL, "no PEM public key in the key given");
	cleanup_free char *sig = NULL;
	size_t sig_len = 0;
	int r = 0;
	if (!b64sig || image_b64_decode(b64sig, &sig, &sig_len) < 0)
		r = err_msg(err, -EACCES, "the signature is not base64");
	int id = EVP_PKEY_get_base_id(k);
	if (r >= 0 && id != EVP_PKEY_EC && id != EVP_PKEY_RSA && id != EVP_PKEY_ED25519)
		r = err_msg(err, -EINVAL, "unsupported public key type (ECDSA, RSA, Ed25519 only)");
	EVP_MD_CTX *ctx = r >= 0 ? EVP_MD_CTX_new() : NULL;
	if (ctx) {
		/* Ed25519 signs the message itself, the others its SHA-256 */
		const EVP_MD *md = id == EVP_PKEY_ED25519 ? NULL : EVP_sha256();
		int ok = EVP_DigestVerifyInit(ctx, NULL, md, NULL, k) == 1 &&
			 EVP_DigestVerify(ctx, (const unsigned char *)sig, sig_len,
					  (const unsigned char *)payload, len) == 1;
		ERR_clear_error();
		cleanup_free char *fpr = key_fpr(k);
		if (!ok)
			r = err_msg(err, -EACCES, "signature does not verify with key %s", fpr);
		else
			*ret_fpr = TAKE_PTR(fpr);
		EVP_MD_CTX_free(ctx);
	}
	EVP_PKEY_free(k);
	return r;
}
