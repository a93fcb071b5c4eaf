/*  cd_z85.h — the shape of a CURVE key in Z85 text, checked where keys are read: the engine's
 *  key events (cd_key.c) and key files (src/net/keyfile.c, also compiled into the client
 *  library, which links nothing else of the engine).  Pure.
 */
#ifndef CD_Z85_H
#define CD_Z85_H

#include <stdbool.h>

#define CD_Z85_KEY_LEN 40 /* a 32-byte CURVE key in Z85 text */

/* True when s holds exactly CD_Z85_KEY_LEN characters of the Z85 alphabet. */
bool cd_z85_key_valid(const char *s);

#endif
