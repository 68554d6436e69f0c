#!/usr/bin/env python3
"""qcow2-damage.py - damaged copies of healthy qcow2 images, for check tests.

    qcow2-damage.py list            the damage kinds, one per line
    qcow2-damage.py help            the kinds with a line of explanation each
    qcow2-damage.py KIND SRC DST    copy SRC to DST and apply one damage
                                    (scramble-SEED: random damage, the
                                    same for the same SEED)
    qcow2-damage.py KIND SRC DST KIND SRC DST ...
                                    several copies in one run (stops at the
                                    first failure)

SRC must be a healthy qcow2 image (version 2 or 3, any cluster size,
refcount width, standard or extended L2 entries). Every offset that is
patched is computed from SRC's own metadata (layout as in QEMU's
docs/interop/qcow2.txt); every read is checked against the file size.
The copy keeps holes (all-zero 4 KiB blocks), so DST is as sparse as SRC.
The result is deterministic: the same SRC and KIND give the same DST.

When SRC lacks what KIND needs (no compressed cluster, no snapshot, not a
lazy_refcounts image, ...) the script prints one line naming SRC and exits
with status 1; DST is then not created. Usage errors exit with status 2.
Standard library only.
"""

import os
import struct
import sys

PROG = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "qcow2-damage.py"

QCOW_MAGIC = b"QFI\xfb"
OFLAG_COPIED = 1 << 63
OFLAG_COMPRESSED = 1 << 62
OFLAG_ZERO = 1
L1E_OFFSET_MASK = 0x00FFFFFFFFFFFE00
L2E_OFFSET_MASK = 0x00FFFFFFFFFFFE00
REFT_OFFSET_MASK = 0xFFFFFFFFFFFFFE00
INCOMPAT_DIRTY = 1 << 0
INCOMPAT_CORRUPT = 1 << 1
INCOMPAT_DATA_FILE = 1 << 2
INCOMPAT_EXTL2 = 1 << 4
COMPAT_LAZY = 1 << 0
EXT_END = 0x00000000
EXT_BITMAPS = 0x23852875
SNAPSHOT_HEADER = struct.Struct(">QIHHIIQII")   # 40 bytes, then extra data, id, name
BITMAP_ENTRY = struct.Struct(">QIIBBHI")        # 24 bytes, then extra data, name


class Fail(Exception):
    """The image lacks what the damage needs, or is not what it should be."""


def round_up(n, align):
    return (n + align - 1) // align * align


class Image:
    """A read-only view of a qcow2 file plus a list of pending patches."""

    def __init__(self, path):
        self.path = path
        self.fd = os.open(path, os.O_RDONLY)
        self.size = os.fstat(self.fd).st_size
        self.patches = []           # (offset, bytes), applied in order
        self.new_size = None        # extend the copy to this size
        try:
            self._parse_header()
            self._parse_extensions()
            self._parse_l1()
            self._parse_reftable()
            self._parse_snapshots()
        except BaseException:
            os.close(self.fd)
            raise

    # --- raw access -------------------------------------------------------

    def read(self, off, n, what):
        """n bytes at off as patched so far; off..off+n must lie in the file"""
        if off < 0 or n < 0 or off + n > self.size:
            raise Fail("%s (%d bytes at offset %#x) runs past the end of the file (%d bytes)"
                       % (what, n, off, self.size))
        buf = bytearray(os.pread(self.fd, n, off))
        if len(buf) != n:
            raise Fail("short read of %s at offset %#x" % (what, off))
        for poff, pdata in self.patches:
            lo, hi = max(off, poff), min(off + n, poff + len(pdata))
            if lo < hi:
                buf[lo - off:hi - off] = pdata[lo - poff:hi - poff]
        return bytes(buf)

    def u64(self, off, what):
        return struct.unpack(">Q", self.read(off, 8, what))[0]

    def put(self, off, data):
        self.patches.append((off, bytes(data)))

    def put64(self, off, value):
        self.put(off, struct.pack(">Q", value))

    def put32(self, off, value):
        self.put(off, struct.pack(">I", value))

    # --- header -----------------------------------------------------------

    def _parse_header(self):
        if self.size < 72:
            raise Fail("not a qcow2 image (only %d bytes)" % self.size)
        h = self.read(0, 72, "header")
        (magic, self.version, self.backing_offset, self.backing_size, self.cluster_bits,
         self.virtual_size, self.crypt_method, self.l1_size, self.l1_offset,
         self.reftable_offset, self.reftable_clusters, self.nb_snapshots,
         self.snapshots_offset) = struct.unpack(">4sIQIIQIIQQIIQ", h)
        if magic != QCOW_MAGIC:
            raise Fail("not a qcow2 image (bad magic)")
        if self.version not in (2, 3):
            raise Fail("unsupported qcow2 version %d" % self.version)
        if not 9 <= self.cluster_bits <= 21:
            raise Fail("cluster_bits %d out of range" % self.cluster_bits)
        self.cs = 1 << self.cluster_bits
        if self.version >= 3:
            if self.size < 104:
                raise Fail("version 3 header is truncated")
            (self.incompat, self.compat, self.autoclear, self.refcount_order,
             self.header_length) = struct.unpack(">QQQII", self.read(72, 32, "v3 header"))
            if self.header_length < 104 or self.header_length > self.cs:
                raise Fail("header_length %d out of range" % self.header_length)
        else:
            self.incompat = self.compat = self.autoclear = 0
            self.refcount_order = 4
            self.header_length = 72
        if self.refcount_order > 6:
            raise Fail("refcount_order %d out of range" % self.refcount_order)
        if self.incompat & INCOMPAT_DATA_FILE:
            raise Fail("images with an external data file are not supported")
        self.extended_l2 = bool(self.incompat & INCOMPAT_EXTL2)
        self.l2_entry_size = 16 if self.extended_l2 else 8
        self.l2_per_table = self.cs // self.l2_entry_size
        self.refcount_bits = 1 << self.refcount_order
        self.csize_shift = 62 - (self.cluster_bits - 8)
        self.csize_mask = (1 << (self.cluster_bits - 8)) - 1
        self.coffset_mask = (1 << self.csize_shift) - 1

    def _parse_extensions(self):
        self.extensions = {}
        off = self.header_length
        end = min(self.cs, self.size)
        while off + 8 <= end:
            etype, elen = struct.unpack(">II", self.read(off, 8, "header extension"))
            if etype == EXT_END:
                break
            if off + 8 + elen > end:
                raise Fail("header extension %#x at %#x runs past the header cluster" % (etype, off))
            self.extensions[etype] = (off + 8, elen)
            off += 8 + round_up(elen, 8)

    def check_table(self, off, length, what):
        if off % self.cs:
            raise Fail("%s at %#x is not cluster aligned" % (what, off))
        if off == 0 or off + length > self.size:
            raise Fail("%s at %#x (%d bytes) lies outside the file" % (what, off, length))

    # --- L1 and L2 ----------------------------------------------------------

    def _parse_l1(self):
        self.check_table(self.l1_offset, self.l1_size * 8, "L1 table")
        raw = self.read(self.l1_offset, self.l1_size * 8, "L1 table")
        self.l1 = list(struct.unpack(">%dQ" % self.l1_size, raw))

    def l1_entries(self):
        """(index, file offset of the entry, entry) of each allocated L1 entry"""
        for i, e in enumerate(self.l1):
            if e & L1E_OFFSET_MASK:
                yield i, self.l1_offset + 8 * i, e

    def l2_entries(self):
        """(guest cluster, file offset of the entry, entry, bitmap) of every
        non-empty L2 entry reachable from the active L1 table, in guest order"""
        for i, _, l1e in self.l1_entries():
            l2 = l1e & L1E_OFFSET_MASK
            self.check_table(l2, self.cs, "L2 table of L1 entry %d" % i)
            raw = self.read(l2, self.cs, "L2 table")
            for j in range(self.l2_per_table):
                p = j * self.l2_entry_size
                e = struct.unpack_from(">Q", raw, p)[0]
                bm = struct.unpack_from(">Q", raw, p + 8)[0] if self.extended_l2 else 0
                if e or bm:
                    yield i * self.l2_per_table + j, l2 + p, e, bm

    def is_compressed(self, e):
        return bool(e & OFLAG_COMPRESSED)

    def is_normal(self, e):
        """an allocated, uncompressed cluster (data or preallocated zeros)"""
        return not self.is_compressed(e) and bool(e & L2E_OFFSET_MASK)

    def has_data(self, e, bm):
        if not self.is_normal(e):
            return False
        if self.extended_l2:
            return bool(bm & 0xFFFFFFFF)
        return not (self.version >= 3 and e & OFLAG_ZERO)

    def data_entries(self, refcount=None, copied=None):
        """normal L2 entries that hold data, optionally only those whose
        host cluster has the given refcount / COPIED flag state"""
        for g, off, e, bm in self.l2_entries():
            if not self.has_data(e, bm):
                continue
            host = e & L2E_OFFSET_MASK
            if host % self.cs or host + self.cs > round_up(self.size, self.cs):
                raise Fail("L2 entry at %#x points outside the file" % off)
            if refcount is not None and self.get_refcount(host >> self.cluster_bits) != refcount:
                continue
            if copied is not None and bool(e & OFLAG_COPIED) != copied:
                continue
            yield g, off, e, bm

    def first(self, gen, what):
        for x in gen:
            return x
        raise Fail("no %s" % what)

    def compressed(self, e):
        """(host offset, size in bytes) of a compressed cluster descriptor"""
        off = e & self.coffset_mask
        nsect = ((e >> self.csize_shift) & self.csize_mask) + 1
        return off, nsect * 512 - (off & 511)

    # --- refcounts ----------------------------------------------------------

    def _parse_reftable(self):
        n = self.reftable_clusters * self.cs // 8
        self.check_table(self.reftable_offset, n * 8, "refcount table")
        raw = self.read(self.reftable_offset, n * 8, "refcount table")
        self.reftable = list(struct.unpack(">%dQ" % n, raw))

    def refcount_location(self, cluster):
        """(file offset of the byte(s), bit shift, width) of a refcount"""
        per_block = self.cs * 8 // self.refcount_bits
        ti, bi = divmod(cluster, per_block)
        if ti >= len(self.reftable):
            raise Fail("cluster %d is beyond the refcount table" % cluster)
        rb = self.reftable[ti] & REFT_OFFSET_MASK
        if rb == 0:
            raise Fail("no refcount block covers cluster %d" % cluster)
        self.check_table(rb, self.cs, "refcount block %d" % ti)
        bit = bi * self.refcount_bits
        return rb + bit // 8, bit % 8, self.refcount_bits

    def get_refcount(self, cluster):
        off, shift, width = self.refcount_location(cluster)
        if width >= 8:
            return int.from_bytes(self.read(off, width // 8, "refcount"), "big")
        # sub-byte refcounts: the first entry in the lowest bits (as QEMU)
        return (self.read(off, 1, "refcount")[0] >> shift) & ((1 << width) - 1)

    def set_refcount(self, cluster, value):
        off, shift, width = self.refcount_location(cluster)
        if value >= 1 << width:
            raise Fail("refcount %d does not fit in %d-bit refcounts" % (value, width))
        if width >= 8:
            self.put(off, value.to_bytes(width // 8, "big"))
        else:
            mask = ((1 << width) - 1) << shift
            b = self.read(off, 1, "refcount")[0]
            self.put(off, bytes([(b & ~mask) | (value << shift)]))

    def file_clusters(self):
        return (self.size + self.cs - 1) // self.cs

    # --- snapshots ----------------------------------------------------------

    def _parse_snapshots(self):
        self.snapshots = []     # (entry offset, l1 offset, l1 size, id, name, entry length)
        if not self.nb_snapshots:
            return
        if self.snapshots_offset % self.cs or self.snapshots_offset == 0:
            raise Fail("snapshot table offset %#x is invalid" % self.snapshots_offset)
        off = self.snapshots_offset
        for i in range(self.nb_snapshots):
            h = self.read(off, SNAPSHOT_HEADER.size, "snapshot table entry %d" % i)
            (l1_off, l1_size, id_len, name_len, _sec, _nsec, _clock, _vmsize,
             extra) = SNAPSHOT_HEADER.unpack(h)
            length = SNAPSHOT_HEADER.size + extra + id_len + name_len
            strs = self.read(off + SNAPSHOT_HEADER.size + extra, id_len + name_len,
                             "snapshot table entry %d" % i)
            sid = strs[:id_len].decode("utf-8", "replace")
            name = strs[id_len:].decode("utf-8", "replace")
            self.snapshots.append((off, l1_off, l1_size, sid, name, round_up(length, 8)))
            off += round_up(length, 8)
        self.snapshots_end = off

    # --- the copy -----------------------------------------------------------

    def save(self, dst):
        tmp = dst + ".tmp%d" % os.getpid()
        try:
            with open(tmp, "wb") as out:
                pos = 0
                while pos < self.size:
                    n = min(65536, self.size - pos)
                    buf = os.pread(self.fd, n, pos)
                    if not buf:
                        raise Fail("short read at offset %#x" % pos)
                    for i in range(0, len(buf), 4096):
                        block = buf[i:i + 4096]
                        if block.count(0) == len(block):
                            out.seek(len(block), os.SEEK_CUR)     # keep the hole
                        else:
                            out.write(block)
                    pos += len(buf)
                out.truncate(max(self.size, self.new_size or 0))
                for off, data in self.patches:
                    os.pwrite(out.fileno(), data, off)
            os.replace(tmp, dst)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise


# --- the damage kinds ---------------------------------------------------------

KINDS = {}


def kind(name, doc):
    def register(fn):
        KINDS[name] = (fn, doc)
        return fn
    return register


def need_v3(img, what):
    if img.version < 3:
        raise Fail("%s needs a version 3 image (compat=1.1), this is version 2" % what)


@kind("leak", "a cluster past the last used one gets refcount 1 (the file is extended to hold it)")
def d_leak(img):
    n = img.file_clusters()
    last = 0
    for k in range(n):
        if img.get_refcount(k):
            last = k
    k = last + 1
    img.refcount_location(k)     # a refcount block must cover it
    img.set_refcount(k, 1)
    if k >= n:
        img.new_size = (k + 1) * img.cs


@kind("refcount-low", "the first data cluster's refcount is set to 0")
def d_refcount_low(img):
    _, _, e, _ = img.first(img.data_entries(refcount=1), "data cluster with refcount 1")
    img.set_refcount((e & L2E_OFFSET_MASK) >> img.cluster_bits, 0)


@kind("refcount-high", "the first data cluster's refcount is set to 2")
def d_refcount_high(img):
    _, _, e, _ = img.first(img.data_entries(refcount=1), "data cluster with refcount 1")
    img.set_refcount((e & L2E_OFFSET_MASK) >> img.cluster_bits, 2)


@kind("refblock-missing", "refcount table entry 0 (the first refcount block) is zeroed")
def d_refblock_missing(img):
    if not img.reftable[0]:
        raise Fail("refcount table entry 0 is already empty")
    img.put64(img.reftable_offset, 0)


@kind("reftable-at-data", "refcount table entry 0 points at the first data cluster")
def d_reftable_at_data(img):
    _, _, e, _ = img.first(img.data_entries(), "data cluster")
    img.put64(img.reftable_offset, e & L2E_OFFSET_MASK)


@kind("reftable-unaligned", "refcount table entry 0 is moved by 0x200 (not cluster aligned)")
def d_reftable_unaligned(img):
    if not img.reftable[0]:
        raise Fail("refcount table entry 0 is empty")
    img.put64(img.reftable_offset, img.reftable[0] + 0x200)


@kind("refblock-refcount-zero", "the first refcount block's own refcount is set to 0")
def d_refblock_refcount_zero(img):
    rb = img.reftable[0] & REFT_OFFSET_MASK
    if not rb:
        raise Fail("refcount table entry 0 is empty")
    img.set_refcount(rb >> img.cluster_bits, 0)


@kind("l2-past-eof", "the first data L2 entry points one cluster past the end of the file (COPIED kept)")
def d_l2_past_eof(img):
    _, off, e, _ = img.first(img.data_entries(), "data cluster")
    beyond = round_up(img.size, img.cs) + img.cs
    img.put64(off, (e & ~L2E_OFFSET_MASK) | beyond)


@kind("l2-unaligned", "the first data L2 entry's offset is moved by 0x200 (not cluster aligned)")
def d_l2_unaligned(img):
    _, off, e, _ = img.first(img.data_entries(), "data cluster")
    img.put64(off, e + 0x200)


@kind("l2-prealloc-unaligned", "the first data L2 entry becomes a preallocated zero cluster at an "
      "unaligned offset (+0x200; standard L2 entries of a version 3 image)")
def d_l2_prealloc_unaligned(img):
    need_v3(img, "a preallocated zero cluster")
    if img.extended_l2:
        raise Fail("a preallocated zero cluster with the zero flag needs standard L2 entries, "
                   "this image has extended L2 entries")
    _, off, e, _ = img.first(img.data_entries(), "data cluster")
    img.put64(off, (e + 0x200) | OFLAG_ZERO)


@kind("l2-shared", "the second data L2 entry points at the first one's host cluster")
def d_l2_shared(img):
    it = img.data_entries(refcount=1)
    a = img.first(it, "data cluster with refcount 1")
    b = img.first(it, "second data cluster with refcount 1")
    img.put64(b[1], (b[2] & ~L2E_OFFSET_MASK) | (a[2] & L2E_OFFSET_MASK))


@kind("l2-reserved-bits", "a reserved bit (bit 1) is set in the first data L2 entry")
def d_l2_reserved_bits(img):
    _, off, e, _ = img.first(img.data_entries(), "data cluster")
    img.put64(off, e | 2)


@kind("l1-at-header", "the first allocated L1 entry points at offset 0 (the header cluster), with COPIED")
def d_l1_at_header(img):
    _, off, _ = img.first(img.l1_entries(), "allocated L1 entry")
    img.put64(off, OFLAG_COPIED)


@kind("l1-reserved-bits", "a reserved bit (bit 1) is set in the first allocated L1 entry")
def d_l1_reserved_bits(img):
    _, off, e = img.first(img.l1_entries(), "allocated L1 entry")
    img.put64(off, e | 2)


@kind("copied-l2", "the COPIED flag of the first data L2 entry that has it is cleared")
def d_copied_l2(img):
    _, off, e, _ = img.first(img.data_entries(refcount=1, copied=True),
                             "data L2 entry with COPIED set and refcount 1")
    img.put64(off, e & ~OFLAG_COPIED)


@kind("copied-l1", "the COPIED flag of the first allocated L1 entry is flipped")
def d_copied_l1(img):
    _, off, e = img.first(img.l1_entries(), "allocated L1 entry")
    img.put64(off, e ^ OFLAG_COPIED)


@kind("copied-wrong", "copied-l2 and copied-l1 together")
def d_copied_wrong(img):
    d_copied_l2(img)
    d_copied_l1(img)


@kind("snapshot-table-truncated", "the header's snapshot count is raised so that the snapshot "
      "table runs past the end of the file (the table must end the file, as when the "
      "snapshot was the last thing written)")
def d_snapshot_table_truncated(img):
    if not img.nb_snapshots:
        raise Fail("no snapshot")
    # The entries after the real ones are read from what follows the table:
    # only zeros up to the end of the file, then nothing. Add entries until
    # one of them lies (at least partly) past the end of the file.
    tail = max(img.size - img.snapshots_end, 0)     # the last entry's padding may be missing
    if tail > 8 * SNAPSHOT_HEADER.size:
        raise Fail("the snapshot table ends at %#x, %d bytes before the end of the file "
                   "(take the snapshot last)" % (img.snapshots_end, tail))
    if tail and img.read(img.snapshots_end, tail, "the bytes after the snapshot table").strip(b"\0"):
        raise Fail("data follows the snapshot table (take the snapshot last)")
    img.put32(60, img.nb_snapshots + tail // SNAPSHOT_HEADER.size + 1)


@kind("snapshot-count-high", "the header's snapshot count is one more than the table holds")
def d_snapshot_count_high(img):
    if not img.nb_snapshots:
        raise Fail("no snapshot")
    img.put32(60, img.nb_snapshots + 1)


@kind("snapshot-l1-unaligned", "the first snapshot's L1 table offset is moved by 0x200")
def d_snapshot_l1_unaligned(img):
    if not img.snapshots:
        raise Fail("no snapshot")
    img.put64(img.snapshots[0][0], img.snapshots[0][1] + 0x200)


@kind("corrupt-bit", "the corrupt bit (incompatible feature bit 1) is set")
def d_corrupt_bit(img):
    need_v3(img, "the corrupt bit")
    img.put64(72, img.incompat | INCOMPAT_CORRUPT)


@kind("dirty-lazy", "on a lazy_refcounts image: the dirty bit is set and the first data "
      "cluster's refcount is 0, as a crash leaves it")
def d_dirty_lazy(img):
    need_v3(img, "the dirty bit")
    if not img.compat & COMPAT_LAZY:
        raise Fail("not a lazy_refcounts image")
    img.put64(72, img.incompat | INCOMPAT_DIRTY)
    d_refcount_low(img)


def first_compressed(img):
    return img.first(((g, off, e) for g, off, e, _ in img.l2_entries() if img.is_compressed(e)),
                     "compressed cluster")


@kind("compressed-broken", "the first compressed cluster descriptor points one cluster past "
      "the end of the file (sector count kept)")
def d_compressed_broken(img):
    _, off, e = first_compressed(img)
    coff, _ = img.compressed(e)
    beyond = round_up(img.size, img.cs) + img.cs + (coff & 511)
    if beyond > img.coffset_mask:
        raise Fail("offset %#x does not fit in a compressed cluster descriptor" % beyond)
    img.put64(off, (e & ~img.coffset_mask) | beyond)


@kind("compressed-copied", "the COPIED flag is set in the first compressed cluster descriptor")
def d_compressed_copied(img):
    _, off, e = first_compressed(img)
    img.put64(off, e | OFLAG_COPIED)


@kind("subcluster-both", "extended L2: the first allocated subcluster also gets its zero bit")
def d_subcluster_both(img):
    if not img.extended_l2:
        raise Fail("no extended L2 entries (extended_l2=on)")
    _, off, _, bm = img.first(img.data_entries(), "allocated subcluster")
    alloc = bm & 0xFFFFFFFF
    low = alloc & -alloc
    img.put64(off + 8, bm | (low << 32))


def bitmap_directory(img):
    """(entry offset, bitmap table offset, table entries, name) of each
    persistent bitmap (the bitmaps header extension)"""
    if EXT_BITMAPS not in img.extensions:
        raise Fail("no persistent bitmap (no bitmaps header extension)")
    off, length = img.extensions[EXT_BITMAPS]
    if length < 24:
        raise Fail("bitmaps header extension is too short (%d bytes)" % length)
    nb, _, dir_size, dir_off = struct.unpack(">IIQQ", img.read(off, 24, "bitmaps extension"))
    img.check_table(dir_off, dir_size, "bitmap directory")
    raw = img.read(dir_off, dir_size, "bitmap directory")
    out, p = [], 0
    for i in range(nb):
        if p + BITMAP_ENTRY.size > len(raw):
            raise Fail("bitmap directory entry %d runs past the directory" % i)
        (table_off, table_size, _flags, _type, _gran, name_size,
         extra) = BITMAP_ENTRY.unpack_from(raw, p)
        end = p + BITMAP_ENTRY.size + extra + name_size
        if end > len(raw):
            raise Fail("bitmap directory entry %d runs past the directory" % i)
        name = raw[end - name_size:end].decode("utf-8", "replace")
        out.append((dir_off + p, table_off, table_size, name))
        p = round_up(end, 8)
    return out


@kind("bitmap-table-leak", "the refcount of the first persistent bitmap's bitmap table "
      "cluster is raised by one")
def d_bitmap_table_leak(img):
    bitmaps = bitmap_directory(img)
    if not bitmaps:
        raise Fail("no persistent bitmap (the bitmap directory is empty)")
    _, table_off, table_size, name = bitmaps[0]
    img.check_table(table_off, table_size * 8, "bitmap table of '%s'" % name)
    k = table_off >> img.cluster_bits
    img.set_refcount(k, img.get_refcount(k) + 1)



# --- random damage ----------------------------------------------------------

def d_scramble(img, seed):
    """1 to 3 random changes to entries of the metadata (L1 and L2 entries,
    refcount table entries, refcount block bytes): bits flipped, offsets
    moved (by a sector, a cluster, past the end, onto other clusters),
    entries cleared, COPIED/compressed/zero flags toggled. The same seed and
    image give the same damage."""
    import random
    r = random.Random(seed)
    cs = img.cs
    tables = [(img.l1_offset, 8, img.l1_size, "l1")]
    for i, _, l1e in img.l1_entries():
        l2 = l1e & L1E_OFFSET_MASK
        if l2 % cs == 0 and l2 + cs <= img.size:
            tables.append((l2, img.l2_entry_size, img.l2_per_table, "l2"))
    rt_entries = img.reftable_clusters * cs // 8
    tables.append((img.reftable_offset, 8, rt_entries, "reftable"))
    for i in range(rt_entries):
        rb = img.u64(img.reftable_offset + 8 * i, "refcount table") & ~0x1ff
        if rb and rb % cs == 0 and rb + cs <= img.size:
            tables.append((rb, 8, cs // 8, "refblock"))
    clusters = (img.size + cs - 1) // cs
    for _ in range(r.randint(1, 3)):
        off, esize, count, what = r.choice(tables)
        used = [i for i in range(count) if img.u64(off + i * esize, what)]
        i = r.choice(used or list(range(count)))
        at = off + i * esize
        v = img.u64(at, what)
        how = r.randrange(8)
        flags = v & 0xff000000000001ff
        if how == 0:
            v ^= 1 << r.randrange(64)
        elif how == 1:
            v = flags | (r.randrange(clusters + 2) * cs)
        elif how == 2:
            v = 0
        elif how == 3:
            step = r.choice([512, cs, -cs, 1 << 40])
            v = flags | (((v & L2E_OFFSET_MASK) + step) & L2E_OFFSET_MASK)
        elif how == 4 and what == "refblock":
            b = off + r.randrange(cs)
            img.put(b, bytes([r.randrange(256)]))
            continue
        elif how == 5:
            v ^= 1 << 63
        elif how == 6:
            v |= 1 << r.choice([0, 62])
        else:
            v = r.getrandbits(64) & 0x80fffffffffffe01
        img.put64(at, v & 0xffffffffffffffff)


def usage():
    sys.stderr.write("usage: %s list | help | KIND SRC DST [KIND SRC DST]...\n" % PROG)
    sys.exit(2)


def main(argv):
    if len(argv) == 1 and argv[0] == "list":
        for name in KINDS:
            print(name)
        return 0
    if len(argv) == 1 and argv[0] in ("help", "-h", "--help"):
        print(__doc__.strip())
        print()
        for name, (_, doc) in KINDS.items():
            print("  %-24s %s" % (name, doc))
        print("  %-24s %s" % ("scramble-SEED", "random damage: 1 to 3 metadata entries changed"))
        return 0
    if not argv or len(argv) % 3:
        usage()
    # several KIND SRC DST triples may follow each other: one start-up for many copies
    for i in range(0, len(argv), 3):
        rc = damage(*argv[i:i + 3])
        if rc:
            return rc
    return 0


def damage(name, src, dst):
    seed = name[len("scramble-"):]
    if name.startswith("scramble-") and seed.isdigit():
        fn = lambda img: d_scramble(img, int(seed))
    elif name in KINDS:
        fn = KINDS[name][0]
    else:
        sys.stderr.write("%s: unknown damage kind '%s' (%s list shows them)\n" % (PROG, name, PROG))
        return 2
    try:
        if os.path.exists(dst) and os.path.samefile(src, dst):
            raise Fail("source and destination are the same file")
        img = Image(src)
        try:
            fn(img)
            img.save(dst)
        finally:
            os.close(img.fd)
    except Fail as e:
        sys.stderr.write("%s: %s: %s: %s\n" % (PROG, name, src, e))
        return 1
    except OSError as e:
        sys.stderr.write("%s: %s: %s\n" % (PROG, e.filename or src, e.strerror))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
