/*  cd_error.h — result codes and the human sentence that goes with a refusal.
 *
 *  Functions return 0 (CD_OK) or a negative cd_code_t, libuv style, and fill a cd_error_t
 *  with the sentence a dispatcher will read.  The wire layer maps the code one-to-one onto
 *  the protocol's Error.Code.
 */
#ifndef CD_ERROR_H
#define CD_ERROR_H

typedef enum cd_code {
    CD_OK = 0,
    CD_EINVAL = -1, /* INVALID_ARGUMENT: a field is missing, malformed or out of range */
    CD_ENOTFOUND = -2,
    CD_ECONFLICT = -3, /* valid request, but the current state forbids it */
    CD_EUNAVAIL = -4,  /* database unreachable */
    CD_EBUSY = -5,     /* next batch is full */
    CD_EUNAUTH = -6,
    CD_EPERM = -7,
    CD_EVERSION = -8,
    CD_EINTERNAL = -9,
} cd_code_t;

#define CD_ERROR_MESSAGE_MAX 256
#define CD_ERROR_FIELD_MAX   48

typedef struct cd_error {
    cd_code_t code;
    char field[CD_ERROR_FIELD_MAX];     /* "" when the refusal is not about one field */
    char message[CD_ERROR_MESSAGE_MAX]; /* one sentence, no trailing newline */
} cd_error_t;

/* Fills *err (if not NULL) and returns code, so callers can `return cd_error_set(...)`. */
int cd_error_set(cd_error_t *err, cd_code_t code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

void cd_error_clear(cd_error_t *err);

/* Upper-case protocol name of a code ("INVALID_ARGUMENT"); "INTERNAL" for unknown values. */
const char *cd_code_name(int code);

#endif
