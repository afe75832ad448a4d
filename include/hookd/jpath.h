/* Dotted paths into JSON documents ("data.items.1.sku"): segments are separated by '.', a segment names an
 * object member, and a numeric segment indexes an array. Filters (filter.h), payload templates (render.h) and the
 * event's status field (decode.h) address the event view this way. */
#ifndef HOOKD_JPATH_H
#define HOOKD_JPATH_H

#include <json-c/json.h>
#include <stddef.h>

/* The value at path, borrowed from doc; NULL when missing (also for a segment of 256 bytes or more). */
json_object *hd_jpath_get(json_object *doc, const char *path);

/* 1 with *idx set when seg (NUL-terminated) is a numeric segment, an array index; else 0. */
int hd_jpath_index(const char *seg, size_t *idx);

#endif
