/*
 * cmdtable.c - every subcommand, declared once. The CLI, one-shot
 * commands, scripts and the shell all dispatch through this table; help
 * texts are generated from it.
 */
#include <stddef.h>

#include "cmd.h"
#include "inspect.h"

const struct cmd commands[] = {
    {
        .name = "amend",
        .handler = cmd_amend,
        .summary = "Change format options of an existing image",
        .synopsis = "[--object objectdef] [--image-opts] [-p] [-q] [-f fmt] [-t cache] "
                    "[--force] -o options filename",
        .details = "  -o options  the options to change (-o help lists them)\n"
                   "  -f fmt      format of the image (probed when omitted)\n"
                   "  -t cache    cache mode (default: writeback)\n"
                   "  --force     allow changes that may lose data (LUKS key slots)\n"
                   "  -p          show progress\n"
                   "  -q          quiet: print nothing but errors\n",
        .flags = CMD_COMPAT | CMD_WRITES,
    },
    {
        .name = "bitmap",
        .handler = cmd_bitmap,
        .summary = "Add, remove, clear, enable, disable or merge persistent bitmaps",
        .synopsis = "(--merge SOURCE | --add | --remove | --clear | --enable | --disable)... "
                    "[-b source_file [-F source_fmt]] [-g granularity] [--object objectdef] "
                    "[--image-opts | -f fmt] filename bitmap",
        .details = "  --add             create the bitmap (enabled)\n"
                   "  --remove          delete it\n"
                   "  --clear           reset every bit\n"
                   "  --enable          track guest writes in it\n"
                   "  --disable         stop tracking\n"
                   "  --merge SOURCE    set the bits SOURCE has\n"
                   "  -g granularity    bytes per bit, with --add (default: cluster size)\n"
                   "  -b source_file    image holding SOURCE, with --merge\n"
                   "  -F source_fmt     its format\n"
                   "  -f fmt            format of the image (probed when omitted)\n"
                   "Operations run in the order given.\n",
        .flags = CMD_COMPAT | CMD_WRITES,
    },
    {
        .name = "check",
        .handler = cmd_check,
        .summary = "Check an image for consistency, and repair it",
        .synopsis = "[--object objectdef] [--image-opts] [-q] [-f fmt] [--output=ofmt] "
                    "[-r [leaks | all]] [-T src_cache] [-U] filename",
        .details = "  -f fmt         format of the image (probed when omitted)\n"
                   "  --output=ofmt  human (default) or json\n"
                   "  -r leaks       repair: free leaked clusters\n"
                   "  -r all         repair: also fix wrong refcounts and other errors\n"
                   "  -T src_cache   cache mode (default: writeback)\n"
                   "  -q             quiet: print nothing but errors\n"
                   "  -U             force share: check even if the image is in use\n"
                   "Exit code: 0 no errors, 1 check failed, 2 corruptions found, 3 leaks\n"
                   "found, 63 the format has no checks.\n",
        .flags = CMD_COMPAT | CMD_WRITES,
    },
    {
        .name = "commit",
        .handler = cmd_commit,
        .summary = "Write an image's data into its backing file",
        .synopsis = "[--object objectdef] [--image-opts] [-q] [-f fmt] [-t cache] [-b base] "
                    "[-r rate_limit] [-d] [-p] filename",
        .details = "  -f fmt      format of the image (probed when omitted)\n"
                   "  -t cache    cache mode (default: writeback)\n"
                   "  -b base     commit into this image of the backing chain (implies -d)\n"
                   "  -d          keep the image's data (do not empty it afterwards)\n"
                   "  -r rate     accepted for compatibility; not enforced\n"
                   "  -p          show progress\n"
                   "  -q          quiet: print nothing but errors\n",
        .flags = CMD_COMPAT | CMD_WRITES,
    },
    {
        .name = "compare",
        .handler = cmd_compare,
        .summary = "Check whether two images show the same guest data",
        .synopsis = "[-f fmt] [-F fmt] [-T src_cache] [-p] [-q] [-s] [-U] filename1 filename2",
        .details = "  -f fmt        format of the first image (probed when omitted)\n"
                   "  -F fmt        format of the second image (probed when omitted)\n"
                   "  -T src_cache  cache mode for reading both images (default: writeback)\n"
                   "  -p            show progress\n"
                   "  -q            quiet: print nothing but errors; the exit code tells\n"
                   "  -s            strict: sizes and block status must match too\n"
                   "  -U            force share: open even if the images are in use\n"
                   "Exit code: 0 identical, 1 different, 2 cannot open, 3 block status\n"
                   "failed, 4 read error.\n",
        .flags = CMD_COMPAT,
    },
    {
        .name = "convert",
        .handler = cmd_convert,
        .summary = "Copy images, possibly concatenated, into a new image of any format",
        .synopsis = "[--target-is-zero] [--bitmaps] [-U] [-C] [-c] [-p] [-q] [-n] [-f fmt] [-t cache] "
                    "[-T src_cache] [-O output_fmt] [-B backing_file [-F backing_fmt]] "
                    "[-o options] [-l snapshot_param] [-S sparse_size] [-r rate_limit] "
                    "[-m num_coroutines] [-W] [--salvage] filename [filename2 [...]] "
                    "output_filename",
        .details = "  -f fmt             format of the sources (probed when omitted)\n"
                   "  -O output_fmt      format of the target (default: raw)\n"
                   "  -o options         target creation options; -o help lists them\n"
                   "  -B backing_file    backing file of the target (formats with backing files)\n"
                   "  -F backing_fmt     format of that backing file\n"
                   "  -n                 the target exists: do not create it\n"
                   "  --target-is-zero   with -n: the target already reads as zeros\n"
                   "  -S sparse_size     zero runs at least this long become holes\n"
                   "                     (default 4k; 0 = fully allocate the target)\n"
                   "  -c                 compress the target (formats that support it)\n"
                   "  -C                 copy offloading: copy data runs as they are\n"
                   "  -l snapshot_param  read an internal snapshot: snapshot.id=ID,\n"
                   "                     snapshot.name=NAME, or ID_OR_NAME\n"
                   "  -t cache           cache mode of the target (default: unsafe)\n"
                   "  -T src_cache       cache mode of the sources (default: writeback)\n"
                   "  -m num             requests in flight, 1 to 16 (default: 8)\n"
                   "  -W                 write the target out of order\n"
                   "  -r rate_limit      accepted for compatibility; not enforced\n"
                   "  --salvage          go on past read errors, leaving zeros\n"
                   "  --bitmaps          copy persistent bitmaps (no format has them yet)\n"
                   "  -p                 show progress\n"
                   "  -q                 quiet: print nothing but errors\n"
                   "  -U                 force share: open the sources even if in use\n"
                   "Several sources are concatenated into the one target.\n",
        .flags = CMD_COMPAT | CMD_WRITES,
    },
    {
        .name = "create",
        .handler = cmd_create,
        .summary = "Create a new disk image",
        .synopsis = "[-q] [-f fmt] [-o options] filename [size]",
        .details = "  -f fmt      format of the new image (default: raw)\n"
                   "  -o options  format options, name=value[,name=value...]; -o help lists them\n"
                   "  -q          quiet: print nothing but errors\n"
                   "  size        virtual size, with an optional k/M/G/T/P/E suffix\n",
        .flags = CMD_COMPAT | CMD_WRITES,
    },
    {
        .name = "dd",
        .handler = cmd_dd,
        .summary = "Copy part of an image into a new image, dd style",
        .synopsis = "[-U] [-f fmt] [-O output_fmt] [bs=block_size] [count=blocks] [skip=blocks] "
                    "if=input of=output",
        .details = "  -f fmt         format of the input (probed when omitted)\n"
                   "  -O output_fmt  format of the new output image (default: raw)\n"
                   "  -U             force share: open the input even if it is in use\n"
                   "  bs=BYTES       block size for count and skip (default: 512)\n"
                   "  count=N        copy only the first N blocks of the input\n"
                   "  skip=N         skip N blocks at the start of the input\n"
                   "  if=FILE        read from FILE\n"
                   "  of=FILE        create FILE and write to it\n",
        .flags = CMD_COMPAT | CMD_WRITES,
    },
    {
        .name = "info",
        .handler = cmd_info,
        .summary = "Show the format, size and metadata of a disk image",
        .synopsis = "[-f fmt] [--output=ofmt] [--backing-chain] [-U] filename",
        .details = "  -f fmt           format of the image (probed when omitted)\n"
                   "  --output=ofmt    human (default) or json\n"
                   "  --backing-chain  show every image of the backing chain\n"
                   "  -U               force share: open even if the image is in use\n",
        .flags = CMD_COMPAT,
    },
    {
        .name = "map",
        .handler = cmd_map,
        .summary = "Show where the guest data of an image lives",
        .synopsis = "[-f fmt] [--start-offset=offset] [--max-length=len] [--output=ofmt] [-U] "
                    "filename",
        .details = "  -f fmt               format of the image (probed when omitted)\n"
                   "  --start-offset=off   first guest byte to describe\n"
                   "  --max-length=len     describe at most len bytes\n"
                   "  --output=ofmt        human (data extents only) or json (every extent)\n"
                   "  -U                   force share: open even if the image is in use\n",
        .flags = CMD_COMPAT,
    },
    {
        .name = "measure",
        .handler = cmd_measure,
        .summary = "Show how much space a new image of some format needs",
        .synopsis = "[--output=ofmt] [-O output_fmt] [-o options] [--size N | [-f fmt] "
                    "[-l snapshot_param] filename]",
        .details = "  --output=ofmt      human (default) or json\n"
                   "  -O output_fmt      format of the new image (default: raw)\n"
                   "  -o options         its creation options (cluster_size, preallocation, ...)\n"
                   "  --size N           size a new empty image of N bytes (k/M/G/T/P/E suffixes)\n"
                   "  -f fmt             format of the source image (probed when omitted)\n"
                   "  -l snapshot_param  measure an internal snapshot of the source:\n"
                   "                     snapshot.id=ID, snapshot.name=NAME, or ID_OR_NAME\n"
                   "  -U                 force share: open the source even if it is in use\n"
                   "  filename           size an image holding this image's guest data\n"
                   "Prints the size the new image needs for its data (\"required size\"), the\n"
                   "size with every cluster allocated, and for qcow2 the space for the source's\n"
                   "persistent bitmaps.\n",
        .flags = CMD_COMPAT,
    },
    {
        .name = "rebase",
        .handler = cmd_rebase,
        .summary = "Change the backing file of an image",
        .synopsis = "[--object objectdef] [--image-opts] [-U] [-q] [-f fmt] [-t cache] "
                    "[-T src_cache] [-p] [-u] -b backing_file [-F backing_fmt] filename",
        .details = "  -b backing_file  the new backing file (\"\" for none: the image takes its data)\n"
                   "  -F backing_fmt   its format (required to record it)\n"
                   "  -u               unsafe: only change the name, copy nothing\n"
                   "  -f fmt           format of the image (probed when omitted)\n"
                   "  -t cache         cache mode of the image (default: writeback)\n"
                   "  -T src_cache     cache mode of the backing files (default: writeback)\n"
                   "  -p               show progress\n"
                   "  -q               quiet: print nothing but errors\n"
                   "  -U               force share: open even if the images are in use\n",
        .flags = CMD_COMPAT | CMD_WRITES,
    },
    {
        .name = "resize",
        .handler = cmd_resize,
        .summary = "Change the virtual size of a disk image",
        .synopsis = "[-f fmt] [--preallocation=prealloc] [-q] [--shrink] filename [+ | -]size",
        .details = "  -f fmt                   format of the image (probed when omitted)\n"
                   "  --preallocation=prealloc off, falloc or full for the new space\n"
                   "  --shrink                 allow the image to become smaller\n"
                   "  -q                       quiet: print nothing but errors\n"
                   "  [+|-]size                new size, or a change relative to the current one\n",
        .flags = CMD_COMPAT | CMD_WRITES,
    },
    {
        .name = "snapshot",
        .handler = cmd_snapshot,
        .summary = "List, create, apply or delete internal snapshots",
        .synopsis = "[--object objectdef] [--image-opts] [-U] [-q] [-l | -a snapshot | "
                    "-c snapshot | -d snapshot] filename",
        .details = "  -l           list the snapshots (the default)\n"
                   "  -c snapshot  create a snapshot of the current guest data\n"
                   "  -a snapshot  apply a snapshot: the guest data becomes its data again\n"
                   "  -d snapshot  delete a snapshot (by id, else by name)\n"
                   "  -q           quiet: print nothing but errors\n"
                   "  -U           force share: list even if the image is in use\n",
        .flags = CMD_COMPAT | CMD_WRITES,
    },
    /* qcow2 inspection (docs/inspection.md): read-only, imgsh only */
    {
        .name = "header",
        .handler = cmd_header,
        .summary = "Show every qcow2 header field with its offset, value and meaning",
        .synopsis = "[--json] [-U] [filename]",
        .details = ""
                   "  --json, --output=json  print JSON (docs/inspection.md)\n  -U                    force share: read it even if it is in use\n",
        .flags = CMD_INSPECT,
    },
    {
        .name = "features",
        .handler = cmd_features,
        .summary = "Show the qcow2 feature bits with their names, set or not",
        .synopsis = "[--json] [-U] [filename]",
        .details = ""
                   "  --json, --output=json  print JSON (docs/inspection.md)\n  -U                    force share: read it even if it is in use\n",
        .flags = CMD_INSPECT,
    },
    {
        .name = "extensions",
        .handler = cmd_extensions,
        .summary = "Show the qcow2 header extensions, decoded",
        .synopsis = "[--json] [-U] [filename]",
        .details = ""
                   "  --json, --output=json  print JSON (docs/inspection.md)\n  -U                    force share: read it even if it is in use\n",
        .flags = CMD_INSPECT,
    },
    {
        .name = "l1",
        .handler = cmd_l1,
        .summary = "Show an L1 table: the active one or a snapshot's",
        .synopsis = "[--json] [-U] [--all] [--snapshot ID] [filename]",
        .details = "  --all          list unallocated entries too\n  --snapshot ID  the L1 table of that snapshot (ID or name)\n"
                   "  --json, --output=json  print JSON (docs/inspection.md)\n  -U                    force share: read it even if it is in use\n",
        .flags = CMD_INSPECT,
    },
    {
        .name = "l2",
        .handler = cmd_l2,
        .summary = "Show an L2 table, by L1 index or by a guest offset it covers",
        .synopsis = "[--json] [-U] [--all] [--snapshot ID] [filename] (L1INDEX | --guest OFFSET)",
        .details = "  --all           list unallocated entries too\n  --snapshot ID   follow that snapshot's L1 table\n  --guest OFFSET  the table covering that guest offset\n"
                   "  --json, --output=json  print JSON (docs/inspection.md)\n  -U                    force share: read it even if it is in use\n",
        .flags = CMD_INSPECT,
    },
    {
        .name = "reftable",
        .handler = cmd_reftable,
        .summary = "Show the refcount table",
        .synopsis = "[--json] [-U] [--all] [filename]",
        .details = "  --all  list empty entries too\n"
                   "  --json, --output=json  print JSON (docs/inspection.md)\n  -U                    force share: read it even if it is in use\n",
        .flags = CMD_INSPECT,
    },
    {
        .name = "refblock",
        .handler = cmd_refblock,
        .summary = "Show the refcounts in one refcount block",
        .synopsis = "[--json] [-U] [--all] [filename] INDEX",
        .details = "  INDEX  the block's index in the refcount table\n  --all  list clusters with refcount 0 too\n"
                   "  --json, --output=json  print JSON (docs/inspection.md)\n  -U                    force share: read it even if it is in use\n",
        .flags = CMD_INSPECT,
    },
    {
        .name = "refcount",
        .handler = cmd_refcount,
        .summary = "Show the refcounts of host clusters",
        .synopsis = "[--json] [-U] [filename] CLUSTER[-LAST]",
        .details = "  CLUSTER[-LAST]  cluster numbers (host offset / cluster size), inclusive\n"
                   "  --json, --output=json  print JSON (docs/inspection.md)\n  -U                    force share: read it even if it is in use\n",
        .flags = CMD_INSPECT,
    },
    {
        .name = "snapshots",
        .handler = cmd_snapshots,
        .summary = "Show the snapshot table as stored",
        .synopsis = "[--json] [-U] [filename]",
        .details = ""
                   "  --json, --output=json  print JSON (docs/inspection.md)\n  -U                    force share: read it even if it is in use\n",
        .flags = CMD_INSPECT,
    },
    {
        .name = "snapshot show",
        .handler = cmd_snapshot_show,
        .summary = "Show one snapshot table entry as stored, extra data included",
        .synopsis = "[--json] [-U] [filename] ID",
        .details = "  ID  the snapshot's ID, or its name\n"
                   "  --json, --output=json  print JSON (docs/inspection.md)\n"
                   "  -U                    force share: read it even if it is in use\n",
        .flags = CMD_INSPECT,
    },
    {
        .name = "bitmap show",
        .handler = cmd_bitmap_show,
        .summary = "Show one persistent bitmap's directory entry and table",
        .synopsis = "[--json] [-U] [--all] [filename] NAME",
        .details = "  --all  list all-zero table entries too\n"
                   "  --json, --output=json  print JSON (docs/inspection.md)\n"
                   "  -U                    force share: read it even if it is in use\n",
        .flags = CMD_INSPECT,
    },
    {
        .name = "bitmaps",
        .handler = cmd_bitmaps,
        .summary = "Show the persistent bitmap directory as stored",
        .synopsis = "[--json] [-U] [filename]",
        .details = ""
                   "  --json, --output=json  print JSON (docs/inspection.md)\n  -U                    force share: read it even if it is in use\n",
        .flags = CMD_INSPECT,
    },
    {
        .name = "translate",
        .handler = cmd_translate,
        .summary = "Follow a guest offset through the L1/L2 tables and the backing chain",
        .synopsis = "[--json] [-U] [filename] OFFSET",
        .details = "  OFFSET  guest byte offset (decimal, 0x hex, or 1M-style)\n"
                   "  --json, --output=json  print JSON (docs/inspection.md)\n  -U                    force share: read it even if it is in use\n",
        .flags = CMD_INSPECT,
    },
    {
        .name = "owner",
        .handler = cmd_owner,
        .summary = "Show what references the host cluster holding a byte",
        .synopsis = "[--json] [-U] [filename] OFFSET",
        .details = "  OFFSET  host byte offset in the image file\n"
                   "  --json, --output=json  print JSON (docs/inspection.md)\n  -U                    force share: read it even if it is in use\n",
        .flags = CMD_INSPECT,
    },
    {
        .name = "clusters",
        .handler = cmd_clusters,
        .summary = "Map every host cluster of a qcow2 file by what uses it, with a summary",
        .synopsis = "[--json] [-U] [--all] [filename]",
        .details = "  --all  one line per cluster (default: runs of clusters of one kind)\n"
                   "  --json, --output=json  print JSON (docs/inspection.md)\n  -U                    force share: read it even if it is in use\n",
        .flags = CMD_INSPECT,
    },
    {
        .name = "leaks",
        .handler = cmd_leaks,
        .summary = "List leaked clusters (refcount but no reference) with a preview of their content",
        .synopsis = "[--json] [-U] [filename]",
        .details = ""
                   "  --json, --output=json  print JSON (docs/inspection.md)\n  -U                    force share: read it even if it is in use\n",
        .flags = CMD_INSPECT,
    },
    {
        .name = "carve",
        .handler = cmd_carve,
        .summary = "Save each leaked cluster holding non-zero data as a file in DIR",
        .synopsis = "[--json] [-U] [filename] DIR",
        .details = "  DIR  a directory (created if missing); files are named by host offset\n"
                   "  --json, --output=json  print JSON (docs/inspection.md)\n  -U                    force share: read it even if it is in use\n",
        .flags = CMD_INSPECT,
    },
    {
        .name = "hash",
        .handler = cmd_hash,
        .summary = "Hash the guest-visible data (as convert -O raw gives it) or the file",
        .synopsis = "[--json] [-U] [-p] [--guest | --host] [--algo sha256|sha1|md5] [-f fmt] [filename]",
        .details = "  --guest      the guest data through the backing chain (the default)\n  --host       the image file's bytes\n  --algo ALGO  sha256 (default), sha1 or md5\n  -p           show progress\n  -f fmt       format of the image (probed when omitted)\n"
                   "  --json, --output=json  print JSON (docs/inspection.md)\n  -U                    force share: read it even if it is in use\n",
        .flags = CMD_INSPECT,
    },
    {
        .name = "hexdump",
        .handler = cmd_hexdump,
        .summary = "Show bytes of the guest data or of the file, hexdump -C style",
        .synopsis = "[--json] [-U] [--guest | --host] [-f fmt] [filename] OFFSET [LENGTH]",
        .details = "  --guest  guest offsets, through the backing chain (the default)\n  --host   offsets in the image file\n  LENGTH   bytes to show (default 512, at most 16 MiB)\n  -f fmt   format of the image (probed when omitted)\n"
                   "  --json, --output=json  print JSON (docs/inspection.md)\n  -U                    force share: read it even if it is in use\n",
        .flags = CMD_INSPECT,
    },
    {
        .name = "export",
        .handler = cmd_export,
        .summary = "Copy bytes of the guest data or of the file into a new file",
        .synopsis = "[--json] [-U] [--force] (--guest | --host) [-f fmt] [filename] OFFSET LENGTH OUTFILE",
        .details = "  --guest  guest offsets, through the backing chain\n  --host   offsets in the image file\n  --force  overwrite OUTFILE if it exists\n  -f fmt   format of the image (probed when omitted)\n"
                   "  --json, --output=json  print JSON (docs/inspection.md)\n  -U                    force share: read it even if it is in use\n",
        .flags = CMD_INSPECT,
    },
    {
        .name = "diagnose",
        .handler = cmd_diagnose,
        .summary = "Everything check finds, and overlaps, bad entries, refcounts and the backing chain",
        .synopsis = "[--json] [-U] [filename]",
        .details = "Exit code: 0 nothing wrong, 2 errors found, 3 warnings only, 1 the image\n"
                   "could not be read.\n"
                   "  --json, --output=json  print JSON (docs/inspection.md)\n  -U                    force share: read it even if it is in use\n",
        .flags = CMD_INSPECT,
    },
    {
        .name = "repair plan",
        .handler = cmd_repair_plan,
        .summary = "List every change a repair would make, without writing",
        .synopsis = "[--json] [-U] [filename] [leaks | all]",
        .details = "  leaks  free leaked clusters only (qemu-img check -r leaks)\n"
                   "  all    everything (the default): qemu-img check -r all, and before it\n"
                   "         imgsh's fixes for the damage qemu-img cannot repair\n"
                   "  --json, --output=json  print JSON (docs/inspection.md)\n  -U                    force share: read it even if it is in use\n",
        .flags = CMD_INSPECT,
    },
    {
        .name = "repair apply",
        .handler = cmd_repair_apply,
        .summary = "Make the changes repair plan lists",
        .synopsis = "[--json] [-U] [filename] [leaks | all]",
        .details = "  leaks  free leaked clusters only (qemu-img check -r leaks)\n"
                   "  all    everything (the default): qemu-img check -r all, and before it\n"
                   "         imgsh's fixes for the damage qemu-img cannot repair\n"
                   "  --json, --output=json  print JSON (docs/inspection.md)\n  -U                    force share: read it even if it is in use\n",
        .flags = CMD_INSPECT | CMD_WRITES,
    },
    { NULL, NULL, NULL, NULL, NULL, 0 },
};
