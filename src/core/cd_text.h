/*  cd_text.h — small pure helpers for validating and copying text fields. */
#ifndef CD_TEXT_H
#define CD_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Maximum lengths in bytes (UTF-8) of the text a client may send.  Chosen to hold any real
 * value with room to spare while keeping one call's memory small and bounded. */
#define CD_REQUEST_ID_MAX  64
#define CD_CALL_ID_MAX     15 /* "C-" + up to 13 digits */
#define CD_TYPE_MAX        32
#define CD_ADDRESS_MAX     256
#define CD_AREA_MAX        64
#define CD_LANGUAGE_MAX    35 /* BCP 47 tags of practical use fit in 35 */
#define CD_SUMMARY_MAX     2000
#define CD_CALLER_NAME_MAX 128
#define CD_CALLBACK_MAX    32
#define CD_REASON_MAX      500
#define CD_ACTOR_MAX       80
#define CD_NOTE_MAX        1000
#define CD_NOTES_MAX       200 /* notes per call: bounds a call's record and its replies */
#define CD_DISPOSITION_MAX 32

/* True when s is valid UTF-8 with no control characters other than tab and newline
 * (allow_newline) — the rule for every free-text field. */
bool cd_text_is_clean(const char *s, bool allow_newline);

/* True for 1..max bytes of printable ASCII without spaces (request ids, call ids). */
bool cd_text_is_token(const char *s, size_t max);

/* True for a lower-case identifier: [a-z][a-z0-9_]*, 1..max bytes (call and unit types). */
bool cd_text_is_ident(const char *s, size_t max);

/* True for a BCP 47 language tag in the practical form: a 2-3 letter primary language,
 * then '-'-separated alphanumeric subtags of 1-8 characters.  Case-insensitive. */
bool cd_text_is_language_tag(const char *s);

/* True for a phone number as dispatchers type it: digits, spaces and + - ( ) . x. */
bool cd_text_is_phone(const char *s);

/* strdup that maps NULL to NULL and aborts on out-of-memory (the engine cannot continue
 * half-applied; see cd_xmalloc). */
char *cd_strdup(const char *s);
void *cd_xmalloc(size_t n);
void *cd_xcalloc(size_t n, size_t size);
void *cd_xrealloc(void *p, size_t n);

/* Copies s into dst[cap] (truncating at a character boundary is not needed: callers have
 * validated the length). */
void cd_copy(char *dst, size_t cap, const char *s);

/* Rewrites a valid BCP 47 tag in its canonical case, in place: language lower-case ("es"),
 * script title-case ("Hant"), region upper-case ("MX"), others lower-case. */
void cd_text_language_normalize(char *tag);

/* Cuts a trailing, incomplete UTF-8 sequence (left by truncating text at a byte limit). */
void cd_text_utf8_trim(char *s);

/* True when two language tags share their primary language ("es-MX" matches "es"). */
bool cd_text_language_matches(const char *a, const char *b);

#endif
