#include "cd_z85.h"

#include <string.h>

bool cd_z85_key_valid(const char *s)
{
    static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   ".-:+=^!/*?&<>()[]{}@%$#";
    if (!s || strlen(s) != CD_Z85_KEY_LEN)
        return false;
    for (; *s; s++)
        if (!strchr(alphabet, *s))
            return false;
    return true;
}
