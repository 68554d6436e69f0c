#!/usr/bin/env python3
"""Compare imgsh's inspection JSON with an independent reading of the same image.

usage: inspect_compare.py IMGSH PARSER IMAGE [SEED]

IMGSH is build/imgsh, PARSER tests/tools/qcow2_inspect.py (written from the
qcow2 specification alone, loaded here as a module). The parser's reading
chooses what to ask: l1 (plain, --all and per snapshot), l2 of every table
(plain, and --all and --guest once; two tables per snapshot), refcount of
every cluster of the file, snapshots and snapshot show of each, translate
at the edges of every allocated cluster, of qemu-img map's extents and at
random offsets, and owner of every host cluster (a sample of 96 on larger
files). imgsh answers all of them in one session (imgsh --json -c ...).
Lists from owner are compared as multisets; all else must be equal.
Prints one line per difference and exits 1 if any.
"""
import importlib.util
import io
import json
import os
import random
import subprocess
import sys

IMGSH, PARSER, IMAGE = sys.argv[1:4]
SEED = int(sys.argv[4]) if len(sys.argv) > 4 else 1

sys.dont_write_bytecode = True
_spec = importlib.util.spec_from_file_location("qcow2_inspect", PARSER)
qi = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(qi)


def parser(argv):
    """The parser's JSON for argv (without the file), or an exception."""
    cmd, opts, args, path = qi.parse_args(list(argv) + [IMAGE])
    out = io.StringIO()
    qi.run(cmd, opts, args, path, out)
    return json.loads(out.getvalue())


def shell_quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def imgsh_batch(lines):
    """Run every line in one imgsh session; a list of (status, value or None)."""
    argv = [IMGSH, "--json", "-c", "set errexit off"]
    for i, line in enumerate(lines):
        argv += ["-c", "echo @@%d" % i, "-c", line]
    p = subprocess.run(argv + [IMAGE], capture_output=True, text=True)
    dec = json.JSONDecoder()
    text, pos, values = p.stdout, 0, []
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        v, pos = dec.raw_decode(text, pos)
        values.append(v)
    results = [None] * len(lines)
    cur = None
    for v in values:
        if isinstance(v, dict) and v.get("command") in ("echo", "set"):
            out = v.get("output") or [""]
            cur = int(out[0][2:]) if out[0].startswith("@@") else None
        elif cur is not None:
            results[cur] = v
    return results, p.stderr


def canon(v):
    return json.dumps(v, sort_keys=True)


def main():
    rnd = random.Random(SEED)
    hdr = open(IMAGE, "rb").read(512)
    cs = 1 << int.from_bytes(hdr[20:24], "big")
    size = int.from_bytes(hdr[24:32], "big")
    file_clusters = (os.path.getsize(IMAGE) + cs - 1) // cs
    asks = []                   # (name, imgsh line, parser argv, multiset)

    def ask(name, line, pargv, multiset=False):
        asks.append((name, line, pargv, multiset))

    ask("l1", "l1", ["l1"])
    ask("l1 --all", "l1 --all", ["l1", "--all"])
    ask("snapshots", "snapshots", ["snapshots"])
    try:
        l1 = parser(["l1"])
        snaps = parser(["snapshots"])
    except Exception:  # noqa: BLE001 - an image the parser cannot read: the asks above say so
        l1, snaps = [], []
    for s in snaps:
        q = shell_quote(s["id"])
        ask("snapshot show " + s["id"], "snapshot show " + q, ["snapshot-show", s["id"]])
        ask("l1 --snapshot " + s["id"], "l1 --snapshot " + q, ["l1", "--snapshot", s["id"]])
        try:
            sl1 = parser(["l1", "--snapshot", s["id"]])
        except Exception:  # noqa: BLE001
            sl1 = []
        for e in [e for e in sl1 if e["l2-offset"]][:2]:
            ask("l2 --snapshot %s %d" % (s["id"], e["index"]),
                "l2 --snapshot %s %d" % (q, e["index"]),
                ["l2", "--snapshot", s["id"], str(e["index"])])
    guests = {0, max(size - 1, 0), size, size + cs}
    first = True
    for e in l1:
        if not e["l2-offset"]:
            continue
        ask("l2 %d" % e["index"], "l2 %d" % e["index"], ["l2", str(e["index"])])
        if first:
            ask("l2 --all", "l2 --all %d" % e["index"], ["l2", "--all", str(e["index"])])
            g = e["guest-offset"] + cs
            ask("l2 --guest", "l2 --guest %d" % g, ["l2", "--guest", str(g)])
            first = False
        try:
            l2 = parser(["l2", str(e["index"])])
        except Exception:  # noqa: BLE001
            l2 = []
        for x in l2:
            g = x["guest-offset"]
            guests.update({g, g + cs // 2, g + cs - 1})
    rng = "0-%d" % (file_clusters + 1)
    ask("refcount " + rng, "refcount " + rng, ["refcount", rng])
    try:
        m = json.loads(subprocess.run(["qemu-img", "map", "-U", "--output=json", IMAGE],
                                      capture_output=True, text=True, check=True).stdout)
        for x in m:
            guests.update({x["start"], x["start"] + x["length"] - 1})
    except (subprocess.CalledProcessError, ValueError):
        pass  # a damaged image qemu-img cannot map: the other offsets remain
    guests.update(rnd.randrange(0, size + cs) for _ in range(24))
    for g in sorted(guests):
        ask("translate %d" % g, "translate %d" % g, ["translate", str(g)])
    clusters = list(range(file_clusters + 1))
    if len(clusters) > 96:
        clusters = sorted(set(clusters[:24] + rnd.sample(clusters, 72)))
    for c in clusters:
        h = c * cs + rnd.randrange(cs)
        ask("owner cluster %d" % c, "owner %d" % h, ["owner", str(h)], True)

    got, errors = imgsh_batch([a[1] for a in asks])
    failures = []
    for (name, _, pargv, multiset), a in zip(asks, got):
        try:
            b = parser(pargv)
        except Exception as e:  # noqa: BLE001 - reported as a difference
            b = "parser failed: %s" % e
        if a is None:
            failures.append("%s: imgsh printed nothing (%s)" % (name, errors.strip()[-300:]))
            continue
        if multiset and isinstance(a, list) and isinstance(b, list):
            same = sorted(map(canon, a)) == sorted(map(canon, b))
        else:
            same = canon(a) == canon(b)
        if not same:
            failures.append("%s differs:\n  imgsh:  %s\n  parser: %s"
                            % (name, canon(a)[:1500], canon(b)[:1500]))
    for f in failures[:20]:
        print(f)
    print("%s: %d comparisons, %d differences" % (IMAGE, len(asks), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
