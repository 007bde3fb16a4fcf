/* The nettool program's exit codes. docs/EXIT-CODES.md lists them for users;
 * keep both in step. Distinct codes let scripts tell causes apart. */
#ifndef NETTOOL_EXITCODES_H
#define NETTOOL_EXITCODES_H

enum {
  NT_EXIT_OK = 0,
  NT_EXIT_INTERNAL = 1,   /* a bug or an unexpected system failure */
  NT_EXIT_USAGE = 2,      /* bad command line: unknown flag, bad port... */
  NT_EXIT_LOCAL = 3,      /* local resource: address in use, no permission */
  NT_EXIT_CONNECT = 4,    /* could not connect: refused, unreachable */
  NT_EXIT_RESOLVE = 5,    /* host name did not resolve */
  NT_EXIT_TLS = 6,        /* TLS handshake or certificate failure */
  NT_EXIT_PROTOCOL = 7,   /* the peer broke the protocol or closed early */
  NT_EXIT_REFUSED = 8,    /* the server answered with an error */
  NT_EXIT_FILE = 9,       /* local file error */
  NT_EXIT_TIMEOUT = 10,   /* the peer did not answer in time */
  NT_EXIT_INPUT = 11,     /* bad input on stdin (e.g. an over-long line),
                             an NZB that does not parse */
  NT_EXIT_INTEGRITY = 12, /* the data does not match the server's checksum */
  NT_EXIT_INCOMPLETE = 13, /* nntp-get: segments missing or damaged */
  NT_EXIT_PAR2 = 14,      /* nntp-get --par2: verification/repair failed */
  NT_EXIT_PROXY = 15,     /* the proxy refused, failed or broke its protocol */
  NT_EXIT_PROXY_AUTH = 16, /* the proxy refused the credentials (or wants some) */
  NT_EXIT_INTERRUPTED = 130, /* SIGINT/SIGTERM (128 + SIGINT, as shells do) */
};

#endif
