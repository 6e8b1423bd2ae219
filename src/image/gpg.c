/* OpenPGP verification of simple signatures through GnuPG (gpgme), each
 * key set in a private keyring of its own, in a temporary directory that
 * lives for one verification: the node's keyrings are never consulted. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <gpgme.h>

#include "base/base.h"
#include "base/fs.h"
#include "image/policy_int.h"

struct image_gpg {
	char *dir;
	gpgme_ctx_t ctx;
	char **fprs; /* of the keys imported (none: nothing to verify with) */
};

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void)
{
	(void)gpgme_check_version(NULL);
}

void image_gpg_free(struct image_gpg *g)
{
	if (!g)
		return;
	if (g->ctx)
		gpgme_release(g->ctx);
	if (g->dir) {
		cleanup_err struct err err = ERR_INIT;
		/* A failure leaves a directory of public keys in /tmp: harmless. */
		(void)fs_rm_rf_at(AT_FDCWD, g->dir, &err);
	}
	free(g->dir);
	strv_free(g->fprs);
	free(g);
}

static int gerr(struct err *err, int code, gpgme_error_t e, const char *what)
{
	return err_msg(err, code, "%s: %s", what, gpgme_strerror(e));
}

int image_gpg_new(const char *const *data, const size_t *lens, size_t n, const char *what,
		  struct image_gpg **ret, struct err *err)
{
	pthread_once(&once, init);
	cleanup(image_gpg_free) struct image_gpg *g = xnew(struct image_gpg);
	char tmpl[] = "/tmp/ocid-gpg-XXXXXX";
	if (!mkdtemp(tmpl))
		return err_set(err, -errno, "mkdtemp %s", tmpl);
	g->dir = xstrdup(tmpl);
	/* never look keys up on the network */
	static const char conf[] = "no-auto-key-retrieve\nno-auto-key-locate\n";
	cleanup_free char *conf_path = xasprintf("%s/gpg.conf", g->dir);
	int r = fs_write_file_atomic(AT_FDCWD, conf_path, conf, sizeof(conf) - 1, 0600, 0, err);
	if (r < 0)
		return r;
	gpgme_error_t e = gpgme_new(&g->ctx);
	if (e)
		return gerr(err, -ENOMEM, e, "gpgme");
	e = gpgme_ctx_set_engine_info(g->ctx, GPGME_PROTOCOL_OpenPGP, NULL, g->dir);
	if (e)
		return gerr(err, -ENOSYS, e, "gpgme: GnuPG engine");
	for (size_t i = 0; i < n; i++) {
		gpgme_data_t d = NULL;
		e = gpgme_data_new_from_mem(&d, data[i], lens[i], 0);
		if (e)
			return gerr(err, -ENOMEM, e, "gpgme");
		e = gpgme_op_import(g->ctx, d);
		gpgme_data_release(d);
		if (e)
			return gerr(err, -EINVAL, e, what);
		gpgme_import_result_t res = gpgme_op_import_result(g->ctx);
		for (gpgme_import_status_t s = res ? res->imports : NULL; s; s = s->next)
			if (s->fpr && !s->result)
				strv_push(&g->fprs, s->fpr);
	}
	if (!g->fprs)
		return err_msg(err, -EINVAL, "%s: no OpenPGP public key could be imported", what);
	*ret = TAKE_PTR(g);
	return 0;
}

int image_gpg_verify(struct image_gpg *g, const char *sig, size_t len, char **ret_payload,
		     size_t *ret_len, char **ret_fpr, struct err *err)
{
	gpgme_data_t in = NULL, out = NULL;
	gpgme_error_t e = gpgme_data_new_from_mem(&in, sig, len, 0);
	if (!e)
		e = gpgme_data_new(&out);
	if (e) {
		gpgme_data_release(in);
		return gerr(err, -ENOMEM, e, "gpgme");
	}
	e = gpgme_op_verify(g->ctx, in, NULL, out);
	gpgme_data_release(in);
	size_t n = 0;
	char *plain = gpgme_data_release_and_get_mem(out, &n);
	cleanup_free char *payload = plain ? xmemdup(plain, n + 1) : xstrdup("");
	if (payload)
		payload[plain ? n : 0] = '\0';
	gpgme_free(plain);
	if (e)
		return gerr(err, -EACCES, e, "not a valid OpenPGP signature");
	gpgme_verify_result_t res = gpgme_op_verify_result(g->ctx);
	gpgme_signature_t s = res ? res->signatures : NULL;
	if (!s)
		return err_msg(err, -EACCES, "not a valid OpenPGP signature (no signature in it)");
	if (s->next)
		return err_msg(err, -EACCES, "more than one signature in one signature file");
	if (gpgme_err_code(s->status) == GPG_ERR_NO_PUBKEY)
		return err_msg(err, -EACCES, "signed by an unknown key %s", s->fpr ? s->fpr : "?");
	if (s->status)
		return err_msg(err, -EACCES, "bad signature by key %s: %s", s->fpr ? s->fpr : "?",
			       gpgme_strerror(s->status));
	/* The keyring holds only the requirement's keys: a key found in it
	 * (a signing subkey too) is one of them. */
	gpgme_key_t key = NULL;
	if (!s->fpr || gpgme_get_key(g->ctx, s->fpr, &key, 0) != 0 || !key)
		return err_msg(err, -EACCES, "signed by an unknown key %s", s->fpr ? s->fpr : "?");
	cleanup_free char *primary =
	    xstrdup(key->subkeys && key->subkeys->fpr ? key->subkeys->fpr : s->fpr);
	gpgme_key_unref(key);
	*ret_len = plain ? n : 0;
	*ret_payload = TAKE_PTR(payload);
	*ret_fpr = TAKE_PTR(primary);
	return 0;
}
