/* Outbound safety: which addresses deliveries may connect to. By default loopback, private (RFC 1918, ULA),
 * link-local (cloud metadata lives at 169.254.169.254), CGNAT, multicast and unspecified addresses are refused;
 * an allow-list of CIDRs opens some of them for internal deployments and tests. The check runs on the address curl
 * is about to connect to (CURLOPT_OPENSOCKETFUNCTION), after DNS resolution, so DNS rebinding cannot slip past. */
#ifndef HOOKD_GUARD_H
#define HOOKD_GUARD_H

#include <stddef.h>
#include <sys/socket.h>

typedef struct hd_guard_s hd_guard_t;

/* allow is a comma-separated list of CIDRs ("10.0.0.0/8,127.0.0.1/32,::1/128"), may be empty. NULL with errstr
 * naming the bad entry. */
hd_guard_t *hd_guard_new(const char *allow, char *errstr, size_t errstr_size);
void hd_guard_destroy(hd_guard_t *g);

/* NULL when addr may be connected to, else a static phrase saying why not ("a loopback address"). */
const char *hd_guard_check(const hd_guard_t *g, const struct sockaddr *addr);

#endif
