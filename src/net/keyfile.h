/*  keyfile.h — CURVE key files (the server's, the clients').
 *
 *  The format is czmq's certificate text (ZPL), so czmq's tools can read it too:
 *
 *      metadata
 *          name = "alice"
 *          role = "dispatcher"
 *          server-key = "<the server's public key>"     (client files; optional)
 *      curve
 *          public-key = "<40 characters of Z85>"
 *          secret-key = "<40 characters of Z85>"       (secret files only)
 *
 *  Secret files are written with mode 0600 and never overwritten.
 */
#ifndef KEYFILE_H
#define KEYFILE_H

#include <stdbool.h>
#include <stddef.h>

#define KEYFILE_Z85 41 /* 40 characters and the terminator */

typedef struct keyfile {
    char public_key[KEYFILE_Z85];
    char secret_key[KEYFILE_Z85]; /* "" when the file holds none */
    char server_key[KEYFILE_Z85]; /* "" when the file names no server */
    char name[64], role[16];      /* from metadata; "" when absent */
} keyfile_t;

/* Reads path.  Returns 0, or -1 with a sentence naming the file in err. */
int keyfile_read(const char *path, keyfile_t *out, char *err, size_t errlen);

/* Writes kf to path: mode 0600 when it holds a secret key, else 0644.  Refuses to replace an
 * existing file.  Returns 0, or -1 with err. */
int keyfile_write(const char *path, const keyfile_t *kf, char *err, size_t errlen);

/* A fresh CURVE key pair (libzmq/libsodium).  Returns 0 or -1. */
int keyfile_generate(keyfile_t *out);

#endif
