/*  cd_json.h — reading the engine's JSON records (event payloads, projection rows).
 *  Small typed getters over cJSON so every record parser reads the same way. */
#ifndef CD_JSON_H
#define CD_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* The string at key, or NULL when absent or not a string. */
const char *cd_json_str(const cJSON *o, const char *key);
/* Like cJSON_GetObjectItemCaseSensitive, but the search starts after *cur (the previous hit,
 * or NULL) and wraps around, and *cur becomes the hit: reading the keys of a record in the
 * order they were written costs one comparison each instead of a scan from the start.  The
 * same item as cJSON's lookup for objects without duplicate keys (every record the engine
 * writes, and every jsonb value). */
const cJSON *cd_json_seek(const cJSON *o, const cJSON **cur, const char *key);

/* The number at key into *out; false when absent or not a number. */
bool cd_json_num(const cJSON *o, const char *key, double *out);
/* The number at key as an integer, or dflt when absent (null counts as absent). */
int64_t cd_json_int(const cJSON *o, const char *key, int64_t dflt);
bool cd_json_bool(const cJSON *o, const char *key, bool dflt);
/* Copies up to max strings of the array at key into out[max][cap]; returns how many. */
int cd_json_strs(const cJSON *o, const char *key, char *out, int max, size_t cap);
/* Adds an array of n strings laid out every `stride` bytes from first. */
void cd_json_add_strs(cJSON *o, const char *key, const char *first, int n, size_t stride);
/* Adds n ints. */
void cd_json_add_ints(cJSON *o, const char *key, const int *v, int n);
/* Reads up to n ints of the array at key into v (missing entries keep their value). */
void cd_json_ints(const cJSON *o, const char *key, int *v, int n);
/* Adders for hot record builders: key must be a string literal (or otherwise outlive the
 * object), which cJSON then keeps by pointer instead of copying — one malloc and one free
 * fewer per field (cJSON_AddItemToObjectCS).  Everything that reads or frees the object
 * behaves as with a copied key. */
void cd_json_add_str_cs(cJSON *o, const char *key, const char *value);
void cd_json_add_num_cs(cJSON *o, const char *key, double value);
void cd_json_add_item_cs(cJSON *o, const char *key, cJSON *item);

/* Adds ms, or null when it is 0 (a time that has not happened). */
void cd_json_add_time(cJSON *o, const char *key, int64_t ms);

/* Prints o without whitespace, like cJSON_PrintUnformatted (same escaping, same text for
 * every value), but integral numbers are written as integers directly instead of through
 * sprintf("%1.15g") and an sscanf round-trip check, which made printing the batch's rows most
 * of the cost of a command (see README, Benchmarks).  Returns malloc'd text (never NULL). */
char *cd_json_print(const cJSON *o);
/* The same text appended at (*buf)[*len], a malloc'd buffer of *cap bytes (or NULL) owned by
 * the caller, grown with realloc when needed; *len is advanced and the text NUL-terminated.
 * The batch's rows (store_rows.c) print payloads straight into their parameter this way. */
void cd_json_print_append(const cJSON *o, char **buf, size_t *len, size_t *cap);
/* A number as cd_json_print writes it (NUL-terminated); returns its length. */
size_t cd_json_format_number(double d, char out[32]);

#endif
