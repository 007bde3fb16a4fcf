/* Private: test hooks of the TLS transport (tls_openssl.c), for unit tests
 * that must make a peer misbehave in ways the public API never allows. */
#ifndef NETTOOL_TLS_INT_H
#define NETTOOL_TLS_INT_H

#include "nettool/transport.h"

/* Starts a TLS 1.2 renegotiation from this side of an established TLS
 * connection (client: a new ClientHello; server: a HelloRequest), lifting
 * this side's own refusal first. The peer, if it is nettool, must refuse it.
 * Returns 0, or NT_EINVAL (not TLS / not established / TLS 1.3) or
 * NT_ETLS_PROTOCOL (OpenSSL refused to start it). */
int nt__tls_test_renegotiate(nt_transport_t *t);

#endif
