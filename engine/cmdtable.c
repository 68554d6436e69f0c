/*
 * cmdtable.c - every subcommand, declared once. The CLI, one-shot
 * commands, scripts and the shell all dispatch through this table; help
 * texts are generated from it.
 */
#include <stddef.h>

#include "cmd.h"

const struct cmd commands[] = {
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
    { NULL, NULL, NULL, NULL, NULL, 0 },
};
