/*
 * jsoncmp - compare two JSON documents as parsed values (member order
 * ignored). Exit 0 when equal, 1 when different, 2 on a parse error.
 * Used by the integration harness to compare --output=json results.
 */
#include <jansson.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    json_error_t e;
    json_t *a, *b;
    int ret;

    if (argc != 3) {
        fprintf(stderr, "usage: jsoncmp A.json B.json\n");
        return 2;
    }
    a = json_load_file(argv[1], JSON_DECODE_ANY, &e);
    if (!a) {
        fprintf(stderr, "jsoncmp: %s: line %d: %s\n", argv[1], e.line, e.text);
        return 2;
    }
    b = json_load_file(argv[2], JSON_DECODE_ANY, &e);
    if (!b) {
        fprintf(stderr, "jsoncmp: %s: line %d: %s\n", argv[2], e.line, e.text);
        json_decref(a);
        return 2;
    }
    ret = json_equal(a, b) ? 0 : 1;
    if (ret) {
        fprintf(stderr, "jsoncmp: %s and %s differ\n", argv[1], argv[2]);
    }
    json_decref(a);
    json_decref(b);
    return ret;
}
