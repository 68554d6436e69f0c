/*
 * size.h - byte sizes as qemu-img reads and prints them.
 */
#ifndef IMGSH_SIZE_H
#define IMGSH_SIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Parse a size the way qemu-img does: a decimal number (or 0x hex without
 * a fraction; a suffix after hex is taken with qemu's deprecation warning
 * on stderr), an optional fraction, an optional suffix
 * b/B (1), k/K (1024), M, G, T, P, E (1024-based, either case).
 * A fraction needs a suffix other than b ("1.5G" is fine, "1.5" is not);
 * exponents and negative numbers are rejected. The whole string must be used.
 * Returns 0, -EINVAL for garbage, -ERANGE when the value does not fit 64 bits.
 */
int size_parse(const char *s, uint64_t *out);
/* The same, printing the hex-suffix warning only when warn (for values parsed before). */
int size_parse_quiet(const char *s, uint64_t *out, bool warn);

/*
 * Format like qemu's size_to_str(): three significant digits and a binary
 * unit, moving to the next unit once the number reaches 1000
 * ("0 B", "999 B", "0.977 KiB", "19.1 MiB", "1 GiB"). Returns buf.
 */
#define SIZE_STR_MAX 32
char *size_to_str(uint64_t val, char buf[SIZE_STR_MAX]);

/* Round helpers. */
static inline uint64_t round_up(uint64_t v, uint64_t align)
{
    return (v + align - 1) / align * align;
}
static inline uint64_t round_down(uint64_t v, uint64_t align)
{
    return v / align * align;
}

#endif
