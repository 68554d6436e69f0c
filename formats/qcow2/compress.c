/*
 * compress.c - compressed qcow2 clusters (zlib raw deflate or zstd, per
 * the header's compression type): decompressing for reads, compressing
 * for compressed writes.
 *
 * A compressed cluster descriptor (L2 entry with bit 62 set) holds the
 * host byte offset in its low x = 62 - (cluster_bits - 8) bits and, above
 * it, the number of additional 512-byte sectors the data spans.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "../../engine/size.h"
#include "../../engine/util.h"
#include "qcow2_int.h"

static int inflate_raw(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len)
{
    z_stream z;
    int ret;

    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, -12) != Z_OK) {
        return -ENOMEM;
    }
    z.next_in = (uint8_t *)in;
    z.avail_in = (uInt)in_len;
    z.next_out = out;
    z.avail_out = (uInt)out_len;
    ret = inflate(&z, Z_FINISH);
    inflateEnd(&z);
    /* the stream may end exactly at the cluster's end or run on; a full cluster is enough */
    if ((ret == Z_STREAM_END || ret == Z_BUF_ERROR) && z.avail_out == 0) {
        return 0;
    }
    return -EIO;
}

static int unzstd(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len)
{
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    ZSTD_inBuffer ib = { in, in_len, 0 };
    ZSTD_outBuffer ob = { out, out_len, 0 };
    int ret = 0;

    if (!dctx) {
        return -ENOMEM;
    }
    while (ob.pos < ob.size) {
        size_t before_in = ib.pos, before_out = ob.pos;
        size_t r = ZSTD_decompressStream(dctx, &ob, &ib);
        if (ZSTD_isError(r)) {
            ret = -EIO;
            break;
        }
        if (r == 0 && ob.pos < ob.size) {
            ret = -EIO;         /* frame ended before a whole cluster came out */
            break;
        }
        if (ib.pos == before_in && ob.pos == before_out) {
            ret = -EIO;         /* no progress: input exhausted */
            break;
        }
    }
    ZSTD_freeDCtx(dctx);
    return ret;
}

int qcow2_decompress_cluster(struct image *img, uint64_t l2e, uint8_t *out, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t host, sectors, csize;
    uint8_t *in;
    int ret;

    qcow2_compressed_desc(s->cluster_bits, l2e, &host, &sectors);
    csize = sectors * 512 - (host & 511);

    if (host >= s->file_length) {
        return err_set(err, -EIO, "Compressed cluster at %#" PRIx64 " lies beyond the end of "
                       "the file", host);
    }
    in = xmalloc((size_t)csize);
    ret = file_pread(img->file, host, in, (size_t)csize, err);
    if (ret == 0) {
        ret = s->compression_type ? unzstd(in, (size_t)csize, out, s->cluster_size)
                                  : inflate_raw(in, (size_t)csize, out, s->cluster_size);
        if (ret < 0) {
            err_set(err, ret, "Could not decompress the cluster at host offset %#" PRIx64,
                    host);
        }
    }
    free(in);
    return ret;
}

long qcow2_compress_cluster(const struct qcow2 *s, const uint8_t *in, uint8_t *out, size_t max)
{
    if (s->compression_type) {
        size_t n = ZSTD_compress(out, max, in, s->cluster_size, ZSTD_CLEVEL_DEFAULT);
        return ZSTD_isError(n) ? -1 : (long)n;
    }
    z_stream z;
    long n = -1;

    memset(&z, 0, sizeof(z));
    /* raw deflate, 4 KiB window: what qemu writes and reads */
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
        return -1;
    }
    z.next_in = (uint8_t *)in;
    z.avail_in = (uInt)s->cluster_size;
    z.next_out = out;
    z.avail_out = (uInt)max;
    if (deflate(&z, Z_FINISH) == Z_STREAM_END) {
        n = (long)(max - z.avail_out);
    }
    deflateEnd(&z);
    return n;
}
