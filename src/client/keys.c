/*  keys.c — CURVE client keys for libcodispatch (see codispatch.h). */
#include <codispatch/codispatch.h>

#include <stdio.h>
#include <string.h>

#include <zmq.h>

#include "../net/keyfile.h"

int cdc_keys_load(const char *key_file, const char *server_key_file, cdc_keys_t *out, char *err,
                  size_t errlen)
{
    memset(out, 0, sizeof *out);
    keyfile_t kf;
    if (!key_file || keyfile_read(key_file, &kf, err, errlen) != 0)
        return CDC_EINVAL;
    if (!kf.secret_key[0]) {
        snprintf(err, errlen, "key file %s holds no secret-key (a public key file?)", key_file);
        return CDC_EINVAL;
    }
    memcpy(out->public_key, kf.public_key, sizeof out->public_key);
    memcpy(out->secret_key, kf.secret_key, sizeof out->secret_key);
    memcpy(out->server_key, kf.server_key, sizeof out->server_key);
    if (server_key_file) {
        keyfile_t srv;
        if (keyfile_read(server_key_file, &srv, err, errlen) != 0)
            return CDC_EINVAL;
        memcpy(out->server_key, srv.public_key, sizeof out->server_key);
    }
    if (!out->server_key[0]) {
        snprintf(err, errlen,
                 "key file %s names no server key; give the server's public key file "
                 "(DATA_DIR/keys/server.key) with --server-key",
                 key_file);
        return CDC_EINVAL;
    }
    return CDC_OK;
}

int cdc_keys_apply(void *sock, const cdc_keys_t *keys)
{
    if (!sock || !keys)
        return CDC_EINVAL;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, keys->server_key, 40) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, keys->public_key, 40) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, keys->secret_key, 40) != 0)
        return CDC_ESYS;
    return CDC_OK;
}
