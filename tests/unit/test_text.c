/* Unit tests: text validation helpers (src/core/cd_text.c). */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cd_json.h"
#include "cd_text.h"
#include "cd_z85.h"

START_TEST(json_print_matches_cjson)
{
    /* cd_json_print must give exactly cJSON's text (the store and the stream rely on it). */
    static const double nums[] = {0,    1,        -1,      42,          1700000000123.0,
                                  -2e9, 34.0512,  -118.25, 0.1,         1.0 / 3.0,
                                  1e-7, 123.5e10, 9e15,    -0.000123456};
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "nums");
    for (size_t i = 0; i < sizeof nums / sizeof *nums; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateNumber(nums[i]));
    cJSON_AddStringToObject(o, "plain", "caller on bridge");
    cJSON_AddStringToObject(o, "escapes",
                            "quote \" back \\ nl \n tab \t cr \r \x01 \x1f bs \b ff \f");
    cJSON_AddStringToObject(o, "utf8", "se\xc3\xb1or \xe6\x97\xa5\xe6\x9c\xac");
    cJSON_AddStringToObject(o, "", "empty key");
    cJSON_AddTrueToObject(o, "t");
    cJSON_AddFalseToObject(o, "f");
    cJSON_AddNullToObject(o, "n");
    cJSON_AddRawToObject(o, "raw", "[1,2]");
    cJSON_AddArrayToObject(o, "empty_array");
    cJSON *nested = cJSON_AddObjectToObject(o, "nested");
    cJSON_AddObjectToObject(nested, "empty");
    cJSON_AddNumberToObject(nested, "k", 7);
    cJSON_AddRawToObject(o, "raw_quotes", "{\"a\\\\b\":1}");
    char *want = cJSON_PrintUnformatted(o), *got = cd_json_print(o);
    ck_assert_str_eq(got, want);

    /* cd_json_print_append: the same text after what the buffer already holds. */
    char *buf = NULL;
    size_t len = 0, cap = 0;
    cd_json_print_append(o, &buf, &len, &cap);
    ck_assert_str_eq(buf, want);
    ck_assert_uint_eq(len, strlen(want));
    size_t plain = len;
    cd_json_print_append(o, &buf, &len, &cap);
    ck_assert_uint_eq(len, 2 * plain);
    ck_assert_int_eq(strncmp(buf, want, plain), 0);
    ck_assert_str_eq(buf + plain, want);
    ck_assert_uint_ge(cap, len + 1);
    free(buf);
    free(want);
    free(got);
    cJSON_Delete(o);
}
END_TEST

/* The exact integer path of cd_json_format_number (1e-3 <= |d| < 1e9) must give the very
 * text of the snprintf way it replaces: "%1.15g" when that reads back exactly, else
 * "%1.17g". */
START_TEST(number_text_matches_printf)
{
    uint64_t st = 88172645463325252ULL;
    long bad = 0;
    for (long i = 0; i < 300000; i++) {
        st ^= st << 13, st ^= st >> 7, st ^= st << 17;
        double d;
        switch (i % 4) {
        case 0: /* positions as clients send them */
            d = (i & 1 ? 33.7 : -118.7) + (double)((st >> 8) % 10000) / 10000.0 * 0.8;
            break;
        case 1: /* any bits at all */
            memcpy(&d, &st, sizeof d);
            break;
        case 2: /* short decimals */
            d = (double)(st % 2000000000) / pow(10, (double)((st >> 40) % 13));
            break;
        default: /* neighbours of short decimals, and exact binary fractions */
            d = i & 1 ? nextafter((double)(st % 100000) / 1000.0, 1e9)
                      : ldexp((double)(st % (1ULL << 20)), -(int)((st >> 32) % 40));
        }
        if (isnan(d) || isinf(d))
            continue;
        char want[32], got[32];
        snprintf(want, sizeof want, "%1.15g", d);
        if (strtod(want, NULL) != d)
            snprintf(want, sizeof want, "%1.17g", d);
        size_t n = cd_json_format_number(d, got);
        if (strcmp(want, got) != 0 || n != strlen(got)) {
            if (bad++ < 5)
                fprintf(stderr, "%.17g: want %s, got %s\n", d, want, got);
        }
    }
    ck_assert_int_eq(bad, 0);
}
END_TEST

START_TEST(clean_text)
{
    ck_assert(cd_text_is_clean("Calle Ñandú 5, piso 2", false));
    ck_assert(cd_text_is_clean("한국어 주소", false));
    ck_assert(cd_text_is_clean("line one\nline two", true));
    ck_assert(!cd_text_is_clean("line one\nline two", false));
    ck_assert(!cd_text_is_clean("bell\x07", true));
    ck_assert(!cd_text_is_clean("\xc3", false));             /* truncated sequence */
    ck_assert(!cd_text_is_clean("\xc0\xaf", false));         /* overlong '/' */
    ck_assert(!cd_text_is_clean("\xed\xa0\x80", false));     /* UTF-16 surrogate */
    ck_assert(!cd_text_is_clean("\xf4\x90\x80\x80", false)); /* past U+10FFFF */
}
END_TEST

START_TEST(tokens_and_idents)
{
    ck_assert(cd_text_is_token("req-1", 64));
    ck_assert(!cd_text_is_token("", 64));
    ck_assert(!cd_text_is_token("has space", 64));
    char long_id[70];
    memset(long_id, 'a', 65);
    long_id[65] = '\0';
    ck_assert(!cd_text_is_token(long_id, 64));
    long_id[64] = '\0';
    ck_assert(cd_text_is_token(long_id, 64));
    ck_assert(cd_text_is_ident("mental_health", 32));
    ck_assert(!cd_text_is_ident("Mental", 32));
    ck_assert(!cd_text_is_ident("9lives", 32));
    ck_assert(!cd_text_is_ident("", 32));
}
END_TEST

START_TEST(language_tags)
{
    ck_assert(cd_text_is_language_tag("es"));
    ck_assert(cd_text_is_language_tag("hy"));
    ck_assert(cd_text_is_language_tag("zh-Hant"));
    ck_assert(cd_text_is_language_tag("es-419"));
    ck_assert(!cd_text_is_language_tag("e"));
    ck_assert(!cd_text_is_language_tag("spanish"));
    ck_assert(!cd_text_is_language_tag("es-"));
    ck_assert(!cd_text_is_language_tag("es--MX"));
    ck_assert(!cd_text_is_language_tag("1s"));
    char tag[] = "ZH-hant-tw";
    cd_text_language_normalize(tag);
    ck_assert_str_eq(tag, "zh-Hant-TW");
    ck_assert(cd_text_language_matches("es-MX", "es"));
    ck_assert(cd_text_language_matches("ES", "es"));
    ck_assert(!cd_text_language_matches("es", "en"));
    ck_assert(!cd_text_language_matches("es", "est"));
    ck_assert(!cd_text_language_matches("", "es"));
}
END_TEST

START_TEST(phones)
{
    ck_assert(cd_text_is_phone("+1 (213) 555-0100"));
    ck_assert(cd_text_is_phone("213.555.0100 x12"));
    ck_assert(!cd_text_is_phone("call me"));
    ck_assert(!cd_text_is_phone("12"));
}
END_TEST

START_TEST(z85_keys)
{
    const char *good = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"; /* libzmq's test vector */
    ck_assert(cd_z85_key_valid(good));
    ck_assert(!cd_z85_key_valid(NULL));
    ck_assert(!cd_z85_key_valid(""));
    ck_assert(!cd_z85_key_valid("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf")); /* 39 */
    ck_assert(!cd_z85_key_valid("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7x"));
    ck_assert(!cd_z85_key_valid("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf\"")); /* not Z85 */
    ck_assert(!cd_z85_key_valid("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]y f"));
}
END_TEST

START_TEST(utf8_trim_drops_a_cut_character)
{
    char a[] = "caf\xc3\xa9"; /* complete: kept */
    cd_text_utf8_trim(a);
    ck_assert_str_eq(a, "caf\xc3\xa9");
    char b[] = "caf\xc3"; /* cut inside a 2-byte character */
    cd_text_utf8_trim(b);
    ck_assert_str_eq(b, "caf");
    char c[] = "x\xe4\xbd"; /* cut inside a 3-byte character */
    cd_text_utf8_trim(c);
    ck_assert_str_eq(c, "x");
    char d[] = "plain";
    cd_text_utf8_trim(d);
    ck_assert_str_eq(d, "plain");
    ck_assert(cd_text_is_clean(b, false) && cd_text_is_clean(c, false));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("text");
    TCase *tc = tcase_create("validation");
    tcase_add_test(tc, clean_text);
    tcase_add_test(tc, json_print_matches_cjson);
    tcase_add_test(tc, number_text_matches_printf);
    tcase_add_test(tc, tokens_and_idents);
    tcase_add_test(tc, language_tags);
    tcase_add_test(tc, phones);
    tcase_add_test(tc, utf8_trim_drops_a_cut_character);
    tcase_add_test(tc, z85_keys);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
