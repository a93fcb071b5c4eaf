#include "cd_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int cd_error_set(cd_error_t *err, cd_code_t code, const char *field, const char *fmt, ...)
{
    if (err) {
        err->code = code;
        snprintf(err->field, sizeof err->field, "%s", field ? field : "");
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

void cd_error_clear(cd_error_t *err)
{
    if (err)
        memset(err, 0, sizeof *err);
}

const char *cd_code_name(int code)
{
    switch (code) {
    case CD_OK:
        return "OK";
    case CD_EINVAL:
        return "INVALID_ARGUMENT";
    case CD_ENOTFOUND:
        return "NOT_FOUND";
    case CD_ECONFLICT:
        return "CONFLICT";
    case CD_EUNAVAIL:
        return "UNAVAILABLE";
    case CD_EBUSY:
        return "BUSY";
    case CD_EUNAUTH:
        return "UNAUTHENTICATED";
    case CD_EPERM:
        return "PERMISSION_DENIED";
    case CD_EVERSION:
        return "UNSUPPORTED_VERSION";
    default:
        return "INTERNAL";
    }
}
