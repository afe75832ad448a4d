/* The event-type grammar, the one set of rules for the subscription model (subdoc.h), the index (match.h) and the
 * management API: a type is dot-separated non-empty segments of [A-Za-z0-9_-], at most 128 bytes; a pattern may
 * also hold "*" as one whole segment (any one segment) and "**" as the last segment (one or more segments). */
#ifndef HOOKD_EVTYPE_H
#define HOOKD_EVTYPE_H

/* 1 when name is a valid event type (no wildcard). */
int hd_evtype_name_valid(const char *name);

/* 1 when pattern is a valid subscription entry: an event type, or one with wildcard segments. */
int hd_evtype_pattern_valid(const char *pattern);

/* 1 when pattern ("*" or "**") matches every event type. */
int hd_evtype_any(const char *pattern);

/* 1 when the event type matches pattern (a valid pattern). */
int hd_evtype_match(const char *pattern, const char *type);

#endif
