/* `hookd demo`: the whole dispatch path with no external servers: librdkafka's in-process mock cluster as Kafka,
 * subscriptions from a JSON file (the file store), a local receiver verifying signatures. Prints a table of
 * outcomes. */
#ifndef HOOKD_DEMO_H
#define HOOKD_DEMO_H

#include <stdatomic.h>

#include "hookd/config.h"

/* Returns the process exit code: 0 when every expected outcome arrived and every signature verified. conf is
 * adjusted (brokers, store, topics) for the demo. */
int hd_demo_run(hd_conf_t *conf, const atomic_int *interrupted);

#endif
