#!/usr/bin/env python3
"""qcow2_inspect.py - an independent reading of qcow2 metadata (test tooling).

Usage:
  qcow2_inspect.py l1 [--snapshot ID] [--all] FILE
  qcow2_inspect.py l2 L1INDEX [--snapshot ID] [--all] FILE
  qcow2_inspect.py l2 --guest OFFSET [--snapshot ID] [--all] FILE
  qcow2_inspect.py refcount CLUSTER[-LAST] FILE
  qcow2_inspect.py snapshots FILE
  qcow2_inspect.py snapshot-show ID FILE
  qcow2_inspect.py translate GUEST_OFFSET FILE
  qcow2_inspect.py owner HOST_OFFSET FILE

Prints the JSON described in docs/inspection.md (json.dumps, indent=2,
sort_keys=True).  Numbers may be decimal or 0x-hex.

This file is written only from the qcow2 specification (QEMU's
docs/interop/qcow2.txt) and docs/inspection.md; it deliberately shares no
code with the C implementation it is meant to check.  Standard library only.

Robustness rules:
  * the image is opened read-only and never written;
  * bytes past the end of the file read as zeros (no short-read errors);
  * every loop driven by on-disk numbers is capped (L1 entries, snapshot
    count, bitmap count) or bounded by the file size (table scans stop at
    EOF, since everything past it is zero), so hostile headers cannot hang
    the tool or make it allocate absurd amounts of memory.

Exit status: 0 success; 1 unreadable file / not qcow2 / unusable metadata
(one line "qcow2_inspect.py: FILE: problem" on stderr); 2 usage error;
3 internal error (a bug in this tool: the selftest treats it as a failure).
"""

import array
import json
import os
import re
import struct
import sys

PROG = 'qcow2_inspect.py'
MAGIC = b'QFI\xfb'

# Header extension types (spec, "Header extensions").
EXT_END = 0x00000000
EXT_BACKING_FORMAT = 0xe2792aca
EXT_FEATURE_TABLE = 0x6803f857
EXT_BITMAPS = 0x23852875
EXT_CRYPTO = 0x0537be77
EXT_DATA_FILE = 0x44415441

# Bits 9-55 of L1/L2/bitmap-table entries: a cluster-aligned host offset.
OFFSET_MASK = 0x00fffffffffffe00
# Refcount table entries use bits 9-63 for the refcount block offset.
RT_OFFSET_MASK = 0xfffffffffffffe00
L2_COMPRESSED = 1 << 62
COPIED = 1 << 63
INCOMPAT_EXTL2 = 1 << 4

# Caps against hostile headers.
L1_MAX_ENTRIES = (32 << 20) // 8     # qemu's 32 MiB L1 limit, in entries
MAX_SNAPSHOTS = 65536
MAX_BITMAPS = 65535
MAX_BITMAP_DIR = 64 << 20            # bytes of bitmap directory parsed
MAX_EXTRA_HEX = 1 << 20              # bytes of snapshot extra data shown
MAX_BACKING_NAME = 65535             # bytes of backing file name read
MAX_CHAIN_DEPTH = 64
MAX_REFCOUNT_RANGE = 1048576
MIN_CLUSTER_BITS, MAX_CLUSTER_BITS = 9, 21
SCAN_CHUNK = 1 << 20                 # bytes per read when scanning tables

assert array.array('Q').itemsize == 8


class InspectError(Exception):
    """A problem with a file: reported as 'PROG: FILE: message', exit 1."""

    def __init__(self, file, message):
        Exception.__init__(self, message)
        self.file = file
        self.message = message


class UsageError(Exception):
    pass


def hex64(value):
    """Raw 64-bit entries are printed as "0x" + 16 lower-case hex digits."""
    return '0x%016x' % value


def round_up8(n):
    return (n + 7) & ~7


def decode_name(raw):
    """Snapshot and bitmap names: bytes as stored; invalid UTF-8 replaced."""
    return raw.decode('utf-8', 'replace')


def overlaps(start, length, first, end):
    """Does [start, start+length) intersect [first, end)?"""
    return length > 0 and start < end and start + length > first


class Qcow2Image:
    """Read-only view of one qcow2 file's metadata."""

    def __init__(self, path):
        self.path = path
        try:
            self.f = open(path, 'rb')
            self.fd = self.f.fileno()
            self.file_size = os.lseek(self.fd, 0, os.SEEK_END)
        except (OSError, ValueError) as e:
            raise InspectError(path, getattr(e, 'strerror', None) or str(e))
        self._snapshots = None
        self._rt_cache = {}
        self._rb_cache = {}
        try:
            self._parse_header()
        except BaseException:
            self.f.close()
            raise

    def close(self):
        self.f.close()

    # ----------------------------------------------------------------- I/O

    def read_avail(self, off, n):
        """The bytes of [off, off+n) that lie inside the file (may be short)."""
        if n <= 0 or off < 0 or off >= self.file_size:
            return b''
        n = min(n, self.file_size - off)
        chunks = []
        while n > 0:
            try:
                data = os.pread(self.fd, min(n, 1 << 30), off)
            except OSError as e:
                raise InspectError(self.path, e.strerror or str(e))
            if not data:
                break
            chunks.append(data)
            off += len(data)
            n -= len(data)
        return b''.join(chunks)

    def read(self, off, n):
        """Exactly n bytes at off; whatever lies past EOF reads as zeros.
        Only called with small n (callers bound it)."""
        data = self.read_avail(off, n)
        if len(data) < n:
            data += bytes(n - len(data))
        return data

    def u64(self, off):
        return struct.unpack('>Q', self.read(off, 8))[0]

    def u64_array(self, off, count):
        """The big-endian 64-bit entries of a table of `count` entries at off,
        as an array truncated where the file ends: entries not in the array
        are past EOF and therefore zero.  Only for tables of bounded size."""
        return self._to_u64(self.read_avail(off, count * 8))

    @staticmethod
    def _to_u64(data):
        if len(data) % 8:                       # entry cut by EOF: zero-fill
            data += bytes(8 - len(data) % 8)
        arr = array.array('Q')
        arr.frombytes(data)
        if sys.byteorder == 'little':
            arr.byteswap()
        return arr

    def iter_nonzero_u64(self, off, count):
        """(index, value) of the non-zero entries of a table of `count`
        64-bit entries at off.  Reads in chunks and stops at EOF, so the
        cost is bounded by the file size whatever `count` says."""
        index = 0
        while index < count:
            pos = off + index * 8
            if pos >= self.file_size:
                return
            n = min(count - index, SCAN_CHUNK // 8)
            data = self.read_avail(pos, n * 8)
            if data.count(0) != len(data):     # skip all-zero chunks fast
                arr = self._to_u64(data)
                for i, v in enumerate(arr):
                    if v:
                        yield index + i, v
            index += n

    # -------------------------------------------------------------- header

    def _parse_header(self):
        hdr = self.read(0, 104)
        if self.file_size < 4 or hdr[0:4] != MAGIC:
            raise InspectError(self.path, 'not a qcow2 image (bad magic)')
        (_, self.version, self.backing_file_offset, self.backing_file_size,
         self.cluster_bits, self.size, self.crypt_method, self.l1_size,
         self.l1_table_offset, self.refcount_table_offset,
         self.refcount_table_clusters, self.nb_snapshots,
         self.snapshots_offset) = struct.unpack('>4sIQIIQIIQQIIQ', hdr[:72])
        if self.version < 2:
            raise InspectError(self.path, 'qcow version %d, not qcow2'
                               % self.version)
        if not MIN_CLUSTER_BITS <= self.cluster_bits <= MAX_CLUSTER_BITS:
            raise InspectError(self.path, 'unsupported cluster_bits %d'
                               % self.cluster_bits)
        self.cluster_size = 1 << self.cluster_bits
        if self.version == 2:
            # A version 2 header is exactly 72 bytes: no feature bits, and
            # refcount_order is implicitly 4 (16-bit refcounts).
            self.incompatible = self.compatible = self.autoclear = 0
            self.refcount_order = 4
            self.header_length = 72
            ext_start = 72
        else:
            (self.incompatible, self.compatible, self.autoclear,
             self.refcount_order, self.header_length) = \
                struct.unpack('>QQQII', hdr[72:104])
            ext_start = max(self.header_length, 104)
        self.extended_l2 = bool(self.incompatible & INCOMPAT_EXTL2)
        self.l2_entry_size = 16 if self.extended_l2 else 8
        self.l2_entries = self.cluster_size // self.l2_entry_size
        self.guest_length = self.cluster_size * self.l2_entries  # per L1 entry

        # Header extensions: type, length, data padded to 8 bytes, in the
        # first cluster; type 0 ends the list.  First occurrence wins.
        self.extensions = {}
        pos = ext_start
        while pos + 8 <= self.cluster_size:
            etype, elen = struct.unpack('>II', self.read(pos, 8))
            if etype == EXT_END or pos + 8 + elen > self.cluster_size:
                break
            self.extensions.setdefault(etype, self.read(pos + 8, elen))
            pos += 8 + round_up8(elen)

        self.backing_name = None
        if self.backing_file_offset and self.backing_file_size:
            raw = self.read(self.backing_file_offset,
                            min(self.backing_file_size, MAX_BACKING_NAME))
            self.backing_name = os.fsdecode(raw)
        fmt = self.extensions.get(EXT_BACKING_FORMAT)
        self.backing_format = fmt.decode('utf-8', 'replace') \
            if fmt is not None else None

    # -------------------------------------------------------------- L1 / L2

    def l1_location(self, snapshot=None):
        """(offset, entries to read) of the active or a snapshot's L1."""
        if snapshot is None:
            return self.l1_table_offset, min(self.l1_size, L1_MAX_ENTRIES)
        return snapshot['l1-offset'], min(snapshot['l1-size'], L1_MAX_ENTRIES)

    def l1_entry(self, snapshot, index):
        off, count = self.l1_location(snapshot)
        if index < 0 or index >= count:
            return None                 # no such entry: no L2 table
        return self.u64(off + 8 * index)

    def l2_table(self, l2_offset):
        """List of (entry, bitmap) pairs; bitmap is None without extended
        L2.  With extended L2 an entry is 128 bits: the standard 64-bit
        entry followed by the subcluster allocation bitmap word."""
        arr = self.u64_array(l2_offset, self.cluster_size // 8)
        n = self.l2_entries
        out = []
        if self.extended_l2:
            for i in range(n):
                e = arr[2 * i] if 2 * i < len(arr) else 0
                b = arr[2 * i + 1] if 2 * i + 1 < len(arr) else 0
                out.append((e, b))
        else:
            for i in range(n):
                out.append((arr[i] if i < len(arr) else 0, None))
        return out

    def l2_nonzero(self, l2_offset):
        """(index, entry, bitmap) of the entries of an L2 table whose entry
        or (extended L2) bitmap is not zero; bitmap is None without
        extended L2."""
        arr = self.u64_array(l2_offset, self.cluster_size // 8)
        if self.extended_l2:
            for i in range(len(arr) // 2):
                e, b = arr[2 * i], arr[2 * i + 1]
                if e or b:
                    yield i, e, b
        else:
            for i, e in enumerate(arr):
                if e:
                    yield i, e, None

    def compressed_descriptor(self, e):
        """Compressed cluster descriptor, x = 62 - (cluster_bits - 8):
             bits 0 .. x-1   host offset of the compressed data (byte
                             granular, usually not aligned)
             bits x .. 61    n = number of 512-byte sectors used beyond the
                             sector that contains the host offset
        The compressed bytes are [host, host + size) where size runs from
        host to the end of sector n after host's sector:
             size = 512 - host % 512 + n * 512."""
        x = 62 - (self.cluster_bits - 8)
        host = e & ((1 << x) - 1)
        nsect = (e >> x) & ((1 << (self.cluster_bits - 8)) - 1)
        return host, 512 - host % 512 + nsect * 512

    def classify(self, e, bitmap):
        """Type of a whole L2 entry (the `l2` rules).  Returns
        (type, host-offset or None, compressed-size or None)."""
        if e & L2_COMPRESSED:
            host, size = self.compressed_descriptor(e)
            return 'compressed', host, size
        off = e & OFFSET_MASK
        if bitmap is None:
            # Standard descriptor: bit 0 = reads as zeros.
            if e & 1:
                return ('zero-allocated', off, None) if off else \
                    ('zero', None, None)
            return ('normal', off, None) if off else \
                ('unallocated', None, None)
        # Extended L2: bitmap bits 0-31 "allocated", bits 32-63 "reads as
        # zeros", bit k for subcluster k (k - 32 for the zero half).
        zero_bits = (bitmap >> 32) & 0xffffffff
        if off:
            if zero_bits == 0xffffffff:
                return 'zero-allocated', off, None
            return 'normal', off, None
        return ('zero', None, None) if zero_bits else \
            ('unallocated', None, None)

    def l2_listing(self, l1_index, snapshot=None, show_all=False):
        raw = self.l1_entry(snapshot, l1_index)
        if raw is None or not raw & OFFSET_MASK:
            return
        l2_off = raw & OFFSET_MASK
        if show_all:
            entries = ((i, e, b) for i, (e, b)
                       in enumerate(self.l2_table(l2_off)))
        else:
            entries = self.l2_nonzero(l2_off)
        for i, e, b in entries:
            typ, host, csize = self.classify(e, b)
            item = {
                'index': i,
                'guest-offset': (l1_index * self.l2_entries + i)
                * self.cluster_size,
                'raw': hex64(e),
                'type': typ,
                'host-offset': host,
                'copied': bool(e & COPIED),
            }
            if typ == 'compressed':
                item['compressed-size'] = csize
            if b is not None:
                item['alloc-bitmap'] = b & 0xffffffff
                item['zero-bitmap'] = (b >> 32) & 0xffffffff
            yield item

    def l1_listing(self, snapshot=None, show_all=False):
        off, count = self.l1_location(snapshot)

        def item(i, raw):
            return {
                'index': i,
                'raw': hex64(raw),
                'l2-offset': raw & OFFSET_MASK,
                'copied': bool(raw & COPIED),
                'guest-offset': i * self.guest_length,
                'guest-length': self.guest_length,
            }
        if show_all:
            arr = self.u64_array(off, count)
            for i in range(count):
                yield item(i, arr[i] if i < len(arr) else 0)
        else:
            for i, raw in self.iter_nonzero_u64(off, count):
                yield item(i, raw)

    # ------------------------------------------------------------ refcounts

    def refcount_bits(self):
        if self.refcount_order > 6:
            raise InspectError(self.path, 'invalid refcount_order %d'
                               % self.refcount_order)
        return 1 << self.refcount_order

    def refcount(self, cluster):
        """Refcount of host cluster `cluster`, via the two-level table:
             entries per block = cluster_size * 8 / refcount_bits
             table index = cluster / entries, block index = cluster % entries
        """
        bits = self.refcount_bits()
        per_block = self.cluster_size * 8 // bits
        ti, bi = divmod(cluster, per_block)
        rt_entries = self.refcount_table_clusters * self.cluster_size // 8
        if ti >= rt_entries:
            return 0                    # past the refcount table
        rte = self._rt_cache.get(ti)
        if rte is None:
            rte = self._rt_cache[ti] = \
                self.u64(self.refcount_table_offset + 8 * ti)
        block_off = rte & RT_OFFSET_MASK
        if not block_off:
            return 0                    # block not allocated
        block = self._rb_cache.get(block_off)
        if block is None:
            block = self._rb_cache[block_off] = \
                self.read(block_off, self.cluster_size)
        if bits < 8:
            # Sub-byte widths pack 8/bits entries per byte, starting at the
            # least significant bit: entry k of a byte is bits
            # [k*bits, (k+1)*bits) counted from the LSB.
            bitpos = bi * bits
            return (block[bitpos // 8] >> (bitpos % 8)) & ((1 << bits) - 1)
        # 8, 16, 32 or 64 bits: big-endian unsigned integers (64-bit values
        # may exceed a signed 64-bit range; Python ints carry them as is).
        nbytes = bits // 8
        return int.from_bytes(block[bi * nbytes:(bi + 1) * nbytes], 'big')

    # ------------------------------------------------------------ snapshots

    def snapshots(self):
        """Snapshot table entries (dicts of the contract's keys, plus
        private '_'-prefixed keys).  Entry layout: 40 fixed bytes, extra
        data (extra_data_size bytes), ID, name, then padding so the entry
        size is a multiple of 8."""
        if self._snapshots is not None:
            return self._snapshots
        out = []
        pos = self.snapshots_offset
        for _ in range(min(self.nb_snapshots, MAX_SNAPSHOTS)):
            (l1_off, l1_size, id_len, name_len, date_sec, date_nsec,
             vm_clock, vm_state32, extra_size) = \
                struct.unpack('>QIHHIIQII', self.read(pos, 40))
            # Extra data (offsets relative to the extra data start):
            #   0-7   vm_state_size (64-bit; overrides the 32-bit field)
            #   8-15  disk size of the snapshot
            #   16-23 icount (instruction count; -1 = not recorded)
            # A field counts as present only when the extra data is long
            # enough to hold it entirely.
            head = self.read(pos + 40, min(extra_size, 24))
            vm_state = vm_state32
            disk_size = icount = None
            if extra_size >= 8:
                vm_state = struct.unpack('>Q', head[0:8])[0]
            if extra_size >= 16:
                disk_size = struct.unpack('>Q', head[8:16])[0]
            if extra_size >= 24:
                icount = struct.unpack('>q', head[16:24])[0]
                if icount == -1:
                    icount = None
            id_off = pos + 40 + extra_size
            sid = decode_name(self.read(id_off, id_len))
            name = decode_name(self.read(id_off + id_len, name_len))
            end = pos + round_up8(40 + extra_size + id_len + name_len)
            out.append({
                'id': sid,
                'name': name,
                'table-offset': pos,
                'l1-offset': l1_off,
                'l1-size': l1_size,
                'date-sec': date_sec,
                'date-nsec': date_nsec,
                'vm-clock-nsec': vm_clock,
                'vm-state-size': vm_state,
                'disk-size': disk_size,
                'icount': icount,
                'extra-data-size': extra_size,
                '_end': end,
            })
            pos = end
        self._snapshots = out
        return out

    def find_snapshot(self, key):
        """By ID, or by name when no ID matches."""
        snaps = self.snapshots()
        for s in snaps:
            if s['id'] == key:
                return s
        for s in snaps:
            if s['name'] == key:
                return s
        raise InspectError(self.path, "no snapshot with ID or name '%s'"
                           % key)

    def snapshot_extra_hex(self, snap):
        n = min(snap['extra-data-size'], MAX_EXTRA_HEX)
        return self.read(snap['table-offset'] + 40, n).hex()

    # -------------------------------------------------------------- bitmaps

    def bitmap_directory(self):
        """(directory offset, size, entries) from the bitmaps extension,
        or None.  Directory entry: table offset (8), table size in entries
        (4), flags (4), type (1), granularity bits (1), name size (2),
        extra data size (4), extra data, name, padding to 8."""
        ext = self.extensions.get(EXT_BITMAPS)
        if ext is None:
            return None
        nb, _, dsize, doff = struct.unpack('>IIQQ', ext[:24].ljust(24, b'\0'))
        parse_len = min(dsize, MAX_BITMAP_DIR)
        data = self.read_avail(doff, parse_len)
        entries = []
        pos = 0
        while len(entries) < min(nb, MAX_BITMAPS) and pos + 24 <= parse_len:
            raw = data[pos:pos + 24].ljust(24, b'\0')
            (t_off, t_size, _flags, _typ, _gran, name_size, extra_size) = \
                struct.unpack('>QIIBBHI', raw)
            name_at = pos + 24 + extra_size
            name = decode_name(data[name_at:name_at + name_size]
                               .ljust(name_size, b'\0'))
            entries.append({'name': name, 'table-offset': t_off,
                            'table-size': t_size})
            pos += round_up8(24 + extra_size + name_size)
        return doff, dsize, entries

    # ----------------------------------------------------------- references

    def references(self, hit=None):
        """Yield (start, length, owner-dict) for every reference the
        metadata makes to a byte range of the file.  `hit(start, length)`,
        when given, filters what is yielded (and lets L2 scans skip early).
        A reference covers every cluster its range overlaps."""
        cs = self.cluster_size

        def want(start, length):
            return length > 0 and (hit is None or hit(start, length))

        if want(0, cs):
            yield 0, cs, {'kind': 'header'}

        # L1 tables, their L2 tables and the data those reference.  The
        # matching entries of each distinct L2 table are computed once, so
        # many L1 entries sharing a table stay cheap.
        l2_matches = {}

        def l2_refs(l2_off):
            found = l2_matches.get(l2_off)
            if found is None:
                found = []
                for i, e, b in self.l2_nonzero(l2_off):
                    typ, host, csize = self.classify(e, b)
                    if typ in ('unallocated', 'zero'):
                        continue
                    length = csize if typ == 'compressed' else cs
                    if want(host, length):
                        found.append((i, host, length, typ))
                l2_matches[l2_off] = found
            return found

        tables = [(None, self.l1_table_offset, self.l1_size)]
        for s in self.snapshots():
            tables.append((s['id'], s['l1-offset'], s['l1-size']))
        l1_scans = {}       # damaged tables often repeat the same L1 values
        for sid, l1_off, l1_size in tables:
            if want(l1_off, l1_size * 8):
                yield l1_off, l1_size * 8, {'kind': 'l1', 'snapshot': sid}
            key = (l1_off, min(l1_size, L1_MAX_ENTRIES))
            if key not in l1_scans:
                l1_scans[key] = list(self.iter_nonzero_u64(*key))
            for i, raw in l1_scans[key]:
                l2_off = raw & OFFSET_MASK
                if not l2_off:
                    continue
                if want(l2_off, cs):
                    yield l2_off, cs, {'kind': 'l2', 'snapshot': sid,
                                       'l1-index': i}
                for j, host, length, typ in l2_refs(l2_off):
                    yield host, length, {
                        'kind': 'data', 'snapshot': sid, 'l1-index': i,
                        'l2-index': j, 'depth': 0, 'type': typ,
                        'guest-offset': (i * self.l2_entries + j) * cs}

        # Refcount table and blocks.
        rt_len = self.refcount_table_clusters * cs
        if want(self.refcount_table_offset, rt_len):
            yield self.refcount_table_offset, rt_len, \
                {'kind': 'refcount-table'}
        for i, rte in self.iter_nonzero_u64(self.refcount_table_offset,
                                            rt_len // 8):
            off = rte & RT_OFFSET_MASK
            if off and want(off, cs):
                yield off, cs, {'kind': 'refcount-block', 'index': i}

        # Snapshot table: from its start to the end of the last entry
        # (including that entry's padding).
        snaps = self.snapshots()
        if snaps:
            length = snaps[-1]['_end'] - self.snapshots_offset
            if want(self.snapshots_offset, length):
                yield self.snapshots_offset, length, \
                    {'kind': 'snapshot-table'}

        # Bitmaps: directory, each bitmap's table, the table's data clusters.
        bd = self.bitmap_directory()
        if bd is not None:
            doff, dsize, entries = bd
            if want(doff, dsize):
                yield doff, dsize, {'kind': 'bitmap-directory'}
            for bm in entries:
                t_off, t_size = bm['table-offset'], bm['table-size']
                if want(t_off, t_size * 8):
                    yield t_off, t_size * 8, {'kind': 'bitmap-table',
                                              'bitmap': bm['name']}
                for i, e in self.iter_nonzero_u64(t_off, t_size):
                    # Bits 9-55: data cluster; 0 with bit 0 = all zeros/ones.
                    off = e & OFFSET_MASK
                    if off and want(off, cs):
                        yield off, cs, {'kind': 'bitmap-data',
                                        'bitmap': bm['name'], 'index': i}

        # Full disk encryption header: offset (8 bytes), length (8 bytes).
        crypto = self.extensions.get(EXT_CRYPTO)
        if crypto is not None:
            c_off, c_len = struct.unpack('>QQ', crypto[:16].ljust(16, b'\0'))
            if want(c_off, c_len):
                yield c_off, c_len, {'kind': 'crypto-header'}

    def owner(self, host_offset):
        cs = self.cluster_size
        first = host_offset // cs * cs
        end = first + cs

        def hit(start, length):
            return overlaps(start, length, first, end)
        return [d for _, _, d in self.references(hit)]


# ------------------------------------------------------------------ translate

def resolve_backing(overlay_path, name):
    """Backing names as `info` shows them: absolute names, URLs ("://") and
    json: names as they are; relative ones next to the overlay."""
    if name.startswith('/') or '://' in name or name.startswith('json:'):
        return name
    if '/' not in overlay_path:
        return name
    return overlay_path[:overlay_path.rindex('/') + 1] + name


def probe_format(path):
    try:
        with open(path, 'rb') as f:
            magic = f.read(4)
    except (OSError, ValueError) as e:
        raise InspectError(path, getattr(e, 'strerror', None) or str(e))
    return 'qcow2' if magic == MAGIC else 'raw'


def raw_file_size(path):
    try:
        with open(path, 'rb') as f:
            return f.seek(0, os.SEEK_END)
    except (OSError, ValueError) as e:
        raise InspectError(path, getattr(e, 'strerror', None) or str(e))


def qcow2_layer_answer(img, guest):
    """Path element fields for a qcow2 layer (everything but depth/file)."""
    cs = img.cluster_size
    l1_index, rest = divmod(guest, img.guest_length)
    l2_index = rest // cs
    elem = {'format': 'qcow2', 'l1-index': l1_index, 'l2-index': l2_index,
            'l2-offset': None, 'raw': None, 'host-offset': None}
    if img.extended_l2:
        # 32 subclusters per cluster.
        elem['subcluster'] = (guest % cs) // (cs // 32)
    if guest >= img.size:
        elem['type'] = 'beyond-end'
        return elem
    l1e = img.l1_entry(None, l1_index)
    if l1e is None or not l1e & OFFSET_MASK:
        elem['type'] = 'unallocated'
        return elem
    l2_off = l1e & OFFSET_MASK
    elem['l2-offset'] = l2_off
    pos = l2_off + l2_index * img.l2_entry_size
    e = img.u64(pos)
    elem['raw'] = hex64(e)
    if e & L2_COMPRESSED:
        host, size = img.compressed_descriptor(e)
        elem.update({'type': 'compressed', 'host-offset': host,
                     'compressed-size': size})
        return elem
    off = e & OFFSET_MASK
    if img.extended_l2:
        bitmap = img.u64(pos + 8)
        sc = elem['subcluster']
        if bitmap >> sc & 1:                     # allocated
            typ = 'normal'
        elif bitmap >> (32 + sc) & 1:            # reads as zeros
            typ = 'zero-allocated' if off else 'zero'
        else:
            typ = 'unallocated'
    else:
        typ = img.classify(e, None)[0]
    elem['type'] = typ
    if typ == 'normal':
        elem['host-offset'] = off + guest % cs
    return elem


def translate(top, guest):
    path = []
    img, name, fmt, depth = top, top.path, 'qcow2', 0
    seen = set()
    opened = []
    try:
        while True:
            real = os.path.realpath(name)
            if real in seen:
                raise InspectError(top.path, 'backing chain loop at %s' % name)
            seen.add(real)
            if fmt == 'raw':
                size = raw_file_size(name)
                elem = {'format': 'raw', 'type': 'normal',
                        'host-offset': guest}
                if guest >= size:
                    elem.update({'type': 'beyond-end', 'host-offset': None})
            else:
                elem = qcow2_layer_answer(img, guest)
            elem['depth'] = depth
            elem['file'] = name
            path.append(elem)
            if elem['type'] != 'unallocated' or fmt == 'raw' \
                    or not img.backing_name:
                break
            # Next layer down.
            if depth + 1 > MAX_CHAIN_DEPTH:
                raise InspectError(top.path, 'backing chain deeper than %d'
                                   % MAX_CHAIN_DEPTH)
            name = resolve_backing(name, img.backing_name)
            fmt = img.backing_format
            if fmt is None:
                fmt = probe_format(name)
            elif fmt not in ('qcow2', 'raw'):
                raise InspectError(name, "unsupported backing format '%s'"
                                   % fmt)
            if fmt == 'qcow2':
                img = Qcow2Image(name)
                opened.append(img)
            depth += 1
    finally:
        for o in opened:
            o.close()
    last = path[-1]
    typ = last['type']
    if typ == 'beyond-end':
        typ = 'zero'
    return {'guest-offset': guest, 'depth': last['depth'],
            'file': last['file'], 'type': typ,
            'host-offset': last['host-offset'], 'path': path}


# ------------------------------------------------------------------------ CLI

def parse_number(text, what):
    if re.fullmatch(r'0[xX][0-9a-fA-F]+', text):
        return int(text, 16)
    if re.fullmatch(r'[0-9]+', text):
        return int(text, 10)
    raise UsageError('invalid %s: %r' % (what, text))


def dump(value):
    return json.dumps(value, indent=2, sort_keys=True)


def write_json_list(items, out):
    """Stream a JSON array formatted exactly like json.dumps(list, indent=2,
    sort_keys=True), without holding every element in memory."""
    first = True
    for item in items:
        text = dump(item).replace('\n', '\n  ')
        out.write(('[\n  ' if first else ',\n  ') + text)
        first = False
    out.write('[]\n' if first else '\n]\n')


USAGE = __doc__.split('\n\n')[1]

COMMANDS = {
    # name: (positional names before FILE, options allowed)
    'l1': ([], {'--snapshot', '--all'}),
    'l2': (['L1INDEX'], {'--snapshot', '--all', '--guest'}),
    'refcount': (['RANGE'], set()),
    'snapshots': ([], set()),
    'snapshot-show': (['ID'], set()),
    'translate': (['GUEST_OFFSET'], set()),
    'owner': (['HOST_OFFSET'], set()),
}


def parse_args(argv):
    if not argv:
        raise UsageError('missing command')
    cmd, rest = argv[0], argv[1:]
    if cmd == 'snapshot' and rest[:1] == ['show']:
        cmd, rest = 'snapshot-show', rest[1:]
    if cmd not in COMMANDS:
        raise UsageError('unknown command %r' % cmd)
    names, allowed = COMMANDS[cmd]
    opts, pos = {}, []
    i = 0
    while i < len(rest):
        a = rest[i]
        if a == '--':
            pos.extend(rest[i + 1:])
            break
        if a.startswith('--') and len(a) > 2:
            key, eq, val = a.partition('=')
            if key not in allowed:
                raise UsageError('unknown option %s for %s' % (key, cmd))
            if key == '--all':
                if eq:
                    raise UsageError('--all takes no value')
                opts['all'] = True
            else:
                if not eq:
                    i += 1
                    if i >= len(rest):
                        raise UsageError('%s needs a value' % key)
                    val = rest[i]
                opts[key[2:]] = val
        else:
            pos.append(a)
        i += 1
    if cmd == 'l2' and 'guest' in opts:
        names = []
    if len(pos) != len(names) + 1:
        raise UsageError('%s: expected %s FILE' % (cmd, ' '.join(names)))
    return cmd, opts, pos[:-1], pos[-1]


def run(cmd, opts, args, path, out):
    img = Qcow2Image(path)
    try:
        snap = None
        if 'snapshot' in opts:
            snap = img.find_snapshot(opts['snapshot'])
        show_all = opts.get('all', False)
        if cmd == 'l1':
            write_json_list(img.l1_listing(snap, show_all), out)
        elif cmd == 'l2':
            if 'guest' in opts:
                l1_index = parse_number(opts['guest'], 'guest offset') \
                    // img.guest_length
            else:
                l1_index = parse_number(args[0], 'L1 index')
            write_json_list(img.l2_listing(l1_index, snap, show_all), out)
        elif cmd == 'refcount':
            first_s, dash, last_s = args[0].partition('-')
            first = parse_number(first_s, 'cluster')
            last = parse_number(last_s, 'cluster') if dash else first
            if last < first:
                raise UsageError('empty cluster range %s' % args[0])
            if last - first + 1 > MAX_REFCOUNT_RANGE:
                raise UsageError('at most %d clusters at a time'
                                 % MAX_REFCOUNT_RANGE)
            img.refcount_bits()         # validate refcount_order up front
            write_json_list(({'cluster': c,
                              'host-offset': c * img.cluster_size,
                              'refcount': img.refcount(c)}
                             for c in range(first, last + 1)), out)
        elif cmd == 'snapshots':
            write_json_list(({k: v for k, v in s.items()
                              if not k.startswith('_')}
                             for s in img.snapshots()), out)
        elif cmd == 'snapshot-show':
            s = img.find_snapshot(args[0])
            item = {k: v for k, v in s.items() if not k.startswith('_')}
            item['extra-data'] = img.snapshot_extra_hex(s)
            out.write(dump(item) + '\n')
        elif cmd == 'translate':
            guest = parse_number(args[0], 'guest offset')
            out.write(dump(translate(img, guest)) + '\n')
        elif cmd == 'owner':
            host = parse_number(args[0], 'host offset')
            write_json_list(img.owner(host), out)
    finally:
        img.close()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    path = None
    try:
        cmd, opts, args, path = parse_args(argv)
        run(cmd, opts, args, path, sys.stdout)
        sys.stdout.flush()
        return 0
    except UsageError as e:
        sys.stderr.write('%s: %s\n%s\n' % (PROG, e, USAGE))
        return 2
    except InspectError as e:
        sys.stderr.write('%s: %s: %s\n' % (PROG, e.file, e.message))
        return 1
    except BrokenPipeError:
        return 1
    except Exception as e:                    # a bug in this tool
        sys.stderr.write('%s: %s: internal error: %s: %s\n'
                         % (PROG, path, type(e).__name__, e))
        return 3


if __name__ == '__main__':
    sys.exit(main())
