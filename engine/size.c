/* size.c - parsing and printing sizes; see size.h. */
#include "size.h"

#include "err.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Multiplier for a suffix character, or 0 when c is not a suffix. */
static uint64_t suffix_mul(char c)
{
    switch (toupper((unsigned char)c)) {
    case 'B': return 1;
    case 'K': return 1ULL << 10;
    case 'M': return 1ULL << 20;
    case 'G': return 1ULL << 30;
    case 'T': return 1ULL << 40;
    case 'P': return 1ULL << 50;
    case 'E': return 1ULL << 60;
    default: return 0;
    }
}

int size_parse(const char *s, uint64_t *out)
{
    return size_parse_quiet(s, out, true);
}

int size_parse_quiet(const char *s, uint64_t *out, bool warn)
{
    const char *p = s;
    char *end;
    unsigned long long ival;
    uint64_t frac = 0;     /* fraction as 0.64 fixed point */
    uint64_t mul;

    /* strtoull skips white space and takes a sign; we refuse the minus */
    errno = 0;
    ival = strtoull(p, &end, 10);
    if (end == p) {
        return -EINVAL;
    }
    if (memchr(p, '-', (size_t)(end - p))) {
        return -EINVAL;
    }
    if (errno == ERANGE) {
        /* too big, but text after the number makes it garbage first */
        return *end ? -EINVAL : -ERANGE;
    }
    if (ival == 0 && (*end == 'x' || *end == 'X')) {
        errno = 0;
        ival = strtoull(p, &end, 16);
        if (errno == ERANGE) {
            return *end ? -EINVAL : -ERANGE;
        }
        if (*end == '.') {
            return -EINVAL;
        }
        if (suffix_mul(*end) && warn) {
            /* qemu 7.2 still takes "0x10k", with a warning */
            warn_printf("Using a multiplier suffix on hex numbers is deprecated: %s", s);
        }
    } else if (*end == '.') {
        const char *f = end;
        char *fend;
        double d;

        errno = 0;
        d = strtod(f, &fend);
        if (fend == f || errno || !isfinite(d)) {
            end++;              /* "1." or "1.k": no fraction digits */
        } else {
            if (memchr(f, 'e', (size_t)(fend - f)) || memchr(f, 'E', (size_t)(fend - f))) {
                return -EINVAL;
            }
            d = ldexp(d, 64);
            /* a fraction that rounds up to 1.0 as a double counts as none, as in qemu */
            frac = d >= 18446744073709551616.0 ? 0 : (uint64_t)d;
            end = fend;
        }
    }

    mul = suffix_mul(*end);
    if (mul) {
        end++;
    } else {
        mul = 1;
    }
    if (*end != '\0') {
        return -EINVAL;
    }
    if (mul == 1) {
        if (frac) {
            return -EINVAL;     /* a fraction needs a scaling suffix */
        }
        *out = ival;
        return 0;
    }
    {
        unsigned __int128 whole = (unsigned __int128)ival * mul;
        unsigned __int128 part = (unsigned __int128)frac * mul;  /* 64.64 */
        unsigned __int128 total = whole + (part >> 64) + ((uint64_t)part >> 63);

        if (total >> 64) {
            return -ERANGE;
        }
        *out = (uint64_t)total;
    }
    return 0;
}

char *size_to_str(uint64_t val, char buf[SIZE_STR_MAX])
{
    static const char *const units[] = { "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei" };
    unsigned i = 0;

    /* step up a unit once the number in the current unit reaches 1000 */
    while (i < 6 && (double)val >= 1000.0 * ldexp(1.0, 10 * (int)i)) {
        i++;
    }
    snprintf(buf, SIZE_STR_MAX, "%0.3g %sB", (double)val / ldexp(1.0, 10 * (int)i), units[i]);
    return buf;
}
