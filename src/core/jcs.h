/* jcs.h - RFC 8785 JSON Canonicalization Scheme over json_value trees, and
 * the content hash custody stores: SHA-256 of the JCS bytes. Pure: no I/O. */
#ifndef CUSTODY_JCS_H
#define CUSTODY_JCS_H

#include "buf.h"
#include "err.h"
#include "json.h"

/* Append the canonical form of v to out: no whitespace; object members
 * sorted by their names as UTF-16 code units; strings escaped as RFC 8785
 * 3.2.2.2 says; numbers in the ECMA-262 Number.prototype.toString form of
 * their IEEE 754 double.
 * Fails (CUST_EJSON, e names the JSON path) for values that are not I-JSON:
 * an object with duplicate names (JSON_F_DUPKEYS), a string with a lone
 * surrogate (JSON_F_SURROGATE), a number that overflows a double (1e400).
 * On failure out may hold a partial result: reset it. */
cust_code jcs_write(const json_value *v, buf *out, struct err *e) CUST_WUR;

/* The ECMA-262 Number::toString of d into out (at least 32 bytes), NUL
 * terminated: shortest round-trip digits, "-0" as "0", exponent form outside
 * 1e-7 <= |d| < 1e21. Returns the length, or 0 for NaN/Infinity (not JSON). */
/* The ECMA-262 form of a JSON number literal when it can be read off the
 * text (plain decimals of at most 15 significant digits in the fixed range);
 * 0 when the double has to be formatted with jcs_number. */
size_t jcs_number_text(const char *text, size_t len, char out[32]);
size_t jcs_number(double d, char out[32]);

/* SHA-256 of data as 64 lowercase hex characters + NUL into hex. */
void jcs_sha256_hex(const void *data, size_t len, char hex[65]);
/* Raw SHA-256. */
void jcs_sha256(const void *data, size_t len, unsigned char out[32]);

#endif
