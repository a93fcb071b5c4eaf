/*  cd_embedded.h — files compiled into the binary by cmake/embed.cmake (SQL migrations, the
 *  dashboard's pages), so that the server is one self-contained file. */
#ifndef CD_EMBEDDED_H
#define CD_EMBEDDED_H

#include <stddef.h>

struct cd_embedded_file {
    const char *name;          /* base name, e.g. "0001_init.sql" */
    const unsigned char *data; /* size bytes plus a terminating NUL */
    size_t size;
};

#endif
