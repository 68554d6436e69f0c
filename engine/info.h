/* info.h - the image description shared by "info" and the shell. */
#ifndef IMGSH_INFO_H
#define IMGSH_INFO_H

#include <jansson.h>

#include "block.h"

/* qemu's ImageInfo for one image, or NULL with err set. */
json_t *image_info_json(struct image *img, struct err *err);
/* qemu-img's "Snapshot list:" table (info, snapshot -l), on stdout. */
void snapshot_list_print(const struct snapshot_info *list, size_t n);
/* The same list as JSON: the "snapshots" array of info --output=json. */
void snapshot_list_print_json(const struct snapshot_info *list, size_t n);
/* qemu-img info's human layout of such a tree, on stdout. */
void image_info_print_human(const json_t *info);
/*
 * The "Format specific information:" block of that layout for a
 * format_specific tree ({"type": ..., "data": {...}}), as qemu-io's info
 * prints it too.
 */
void image_info_print_specific(const json_t *format_specific);
/*
 * Where a backing file name recorded in image refers to: absolute names
 * and protocol/json: names as they are, relative ones against image's
 * directory. Free with free().
 */
char *backing_full_path(const char *image, const char *backing);

#endif
