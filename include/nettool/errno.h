/* Error codes: every fallible nettool call returns 0 or a negative NT_E* code. */

/*
 * The system's <errno.h>, which this file must never shadow. Included as
 * <nettool/errno.h> (the documented way) the #include below finds the
 * system's header. If a program puts include/nettool itself on its include
 * path, <errno.h> finds this file instead -- both the program's own
 * #include <errno.h> and the one below; that nested inclusion sees
 * NT__ERRNO_FORWARD and passes on to the next errno.h on the search path,
 * the system's, with #include_next (GCC and clang; the pragma keeps
 * -pedantic quiet about the extension in that case only). Outside the
 * include guard, so every route through this file reaches the system's.
 */
#if defined(NT__ERRNO_FORWARD)
#if defined(__GNUC__)
#pragma GCC system_header
#include_next <errno.h>
#endif
#else
#define NT__ERRNO_FORWARD
#include <errno.h>
#undef NT__ERRNO_FORWARD
#endif

#ifndef NETTOOL_ERRNO_H
#define NETTOOL_ERRNO_H

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* public: see docs/ABI.md */
#endif

/*
 * Codes are -errno where an errno fits, so a failed syscall's error passes
 * through unchanged; nettool's own codes live from -3000 down, clear of any
 * errno value, one range of 100 per subsystem, listed in numeric order. One
 * X-macro generates the enum, nt_strerror() and nt_err_name().
 *
 * The rule for asynchronous calls (taken from libuv): when a function that
 * takes a callback returns an error, the callback will never be called.
 */
#define NT_ERRNO_MAP(XX)                                                      \
  XX(EPERM, -EPERM, "operation not permitted")                               \
  XX(ENOENT, -ENOENT, "no such file or directory")                           \
  XX(EINTR, -EINTR, "interrupted system call")                               \
  XX(EIO, -EIO, "i/o error")                                                 \
  XX(EBADF, -EBADF, "bad file descriptor")                                   \
  XX(EAGAIN, -EAGAIN, "resource temporarily unavailable")                    \
  XX(ENOMEM, -ENOMEM, "not enough memory")                                   \
  XX(EACCES, -EACCES, "permission denied")                                   \
  XX(EBUSY, -EBUSY, "resource busy or locked")                               \
  XX(EEXIST, -EEXIST, "file already exists")                                 \
  XX(EINVAL, -EINVAL, "invalid argument")                                    \
  XX(EMFILE, -EMFILE, "too many open files")                                 \
  XX(ENOSPC, -ENOSPC, "no space left on device")                             \
  XX(EPIPE, -EPIPE, "broken pipe")                                           \
  XX(ENOTSOCK, -ENOTSOCK, "socket operation on non-socket")                  \
  XX(EMSGSIZE, -EMSGSIZE, "message too long")                                \
  XX(EAFNOSUPPORT, -EAFNOSUPPORT, "address family not supported")            \
  XX(EADDRINUSE, -EADDRINUSE, "address already in use")                      \
  XX(EADDRNOTAVAIL, -EADDRNOTAVAIL, "address not available")                 \
  XX(ENETDOWN, -ENETDOWN, "network is down")                                 \
  XX(ENETUNREACH, -ENETUNREACH, "network is unreachable")                    \
  XX(ECONNABORTED, -ECONNABORTED, "connection aborted")                      \
  XX(ECONNRESET, -ECONNRESET, "connection reset by peer")                    \
  XX(ENOTCONN, -ENOTCONN, "socket is not connected")                         \
  XX(ETIMEDOUT, -ETIMEDOUT, "connection timed out")                          \
  XX(ECONNREFUSED, -ECONNREFUSED, "connection refused")                      \
  XX(EHOSTUNREACH, -EHOSTUNREACH, "host is unreachable")                     \
  XX(EALREADY, -EALREADY, "operation already in progress")                   \
  XX(ECANCELED, -ECANCELED, "operation canceled")                            \
  XX(ENOSYS, -ENOSYS, "function not implemented")                            \
  XX(ENOTSUP, -ENOTSUP, "operation not supported")                           \
  XX(EPROTO, -EPROTO, "protocol error")                                      \
  XX(ESRCH, -ESRCH, "no such process")                                       \
  XX(ENOEXEC, -ENOEXEC, "exec format error")                                 \
  /* nettool's own codes */                                                  \
  XX(ECLOSED, -3000, "transport is closing or closed")                       \
  XX(ELINETOOLONG, -3001, "line exceeds the maximum length")                 \
  XX(ETOOBIG, -3002, "message exceeds the maximum size")                     \
  XX(EBADADDR, -3003, "not a numeric IP address")                            \
  XX(EBADPORT, -3004, "port out of range")                                   \
  XX(EBACKEND, -3005, "unknown reactor backend")                             \
  XX(EUNEXPECTEDEOF, -3006, "connection closed before the reply was complete") \
  XX(EDIGEST, -3007, "the data does not match the checksum the server gave") \
  /* name resolution (resolve.h) */                                          \
  XX(EDNS_NXDOMAIN, -3100, "name does not exist")                            \
  XX(EDNS_NODATA, -3101, "name has no address of the requested family")      \
  XX(EDNS_TIMEOUT, -3102, "DNS server did not answer in time")               \
  XX(EDNS_REFUSED, -3103, "DNS server refused the query")                    \
  XX(EDNS_SERVFAIL, -3104, "DNS server failed to answer")                    \
  XX(EDNS_BADNAME, -3106, "not a valid host name")                           \
  XX(EDNS_BADRESP, -3107, "malformed DNS response")                          \
  XX(EDNS_FAIL, -3108, "name resolution failed")                             \
  /* TLS (tls.h); nt_tls_error_reason()/nt_tls_last_error() say why */       \
  XX(ETLS_HANDSHAKE, -3200, "TLS handshake failed")                          \
  XX(ETLS_VERIFY, -3201, "TLS certificate verification failed")              \
  XX(ETLS_CERT_EXPIRED, -3202, "TLS certificate has expired or is not yet valid") \
  XX(ETLS_HOSTNAME, -3203, "TLS certificate does not match the host name")   \
  XX(ETLS_UNKNOWN_CA, -3204, "TLS certificate is not signed by a trusted CA") \
  XX(ETLS_TRUNCATED, -3205, "TLS connection closed without close_notify (truncated)") \
  XX(ETLS_PROTOCOL, -3206, "TLS protocol error")                             \
  XX(ETLS_CONFIG, -3207, "bad TLS configuration (certificate, key or CA)")   \
  /* HTTP (http.h); nt_http_request_error() says more */                  \
  XX(EHTTP_PARSE, -3300, "malformed HTTP response")                          \
  XX(EHTTP_HEADERS_TOO_BIG, -3301, "HTTP response headers too large")        \
  XX(EHTTP_REDIRECTS, -3302, "too many HTTP redirects")                      \
  XX(EHTTP_BAD_REDIRECT, -3303, "HTTP redirect without a usable Location")   \
  XX(EHTTP_BAD_URL, -3304, "malformed URL")                                  \
  XX(EHTTP_SCHEME, -3305, "unsupported URL scheme (http and https only)")    \
  XX(EHTTP_NO_REPLAY, -3306, "the request body cannot be sent again")        \
  XX(EHTTP_FILE_CHANGED, -3307, "file changed size during the upload")       \
  /* FTP (ftp.h); the reply's own words come with the result */            \
  XX(EFTP_REPLY, -3400, "FTP server replied with an error")                  \
  XX(EFTP_LOGIN, -3401, "FTP login refused")                                 \
  XX(EFTP_CLOSED, -3402, "FTP server closed the connection (421)")           \
  XX(EFTP_BADREPLY, -3403, "malformed FTP reply")                            \
  XX(EFTP_SIZE, -3404, "transfer size does not match the server's")          \
  XX(EFTP_NOTLS, -3405, "FTP server refused TLS (AUTH TLS)")                 \
  XX(EFTP_DATA_PEER, -3406, "FTP data connection from an unexpected address") \
  /* NNTP (nntp.h): the server said no; nt_nntp_last_reply has its words */ \
  XX(ENNTP_NOGROUP, -3500, "no such newsgroup")                              \
  XX(ENNTP_NOGROUPSEL, -3501, "no newsgroup selected")                       \
  XX(ENNTP_NOARTICLE, -3502, "no such article")                              \
  XX(ENNTP_NOPOST, -3503, "posting not allowed")                             \
  XX(ENNTP_POSTFAIL, -3504, "posting failed")                                \
  XX(ENNTP_AUTHREQ, -3505, "authentication required")                        \
  XX(ENNTP_AUTHFAIL, -3506, "authentication rejected")                       \
  XX(ENNTP_TLSREQ, -3507, "the server requires encryption (TLS)")            \
  XX(ENNTP_NOTLS, -3508, "the server does not offer STARTTLS")               \
  XX(ENNTP_UNSUPPORTED, -3509, "command not supported by the server")        \
  XX(ENNTP_UNAVAILABLE, -3510, "news service unavailable")                   \
  XX(ENNTP_REFUSED, -3511, "the news server refused the command")            \
  XX(ENNTP_BADREPLY, -3512, "malformed NNTP reply")                          \
  /* proxies (proxy.h); nt_proxy_last_error() has the proxy's words */       \
  XX(EPROXY_BADURL, -3600, "malformed or unsupported proxy URL")             \
  XX(EPROXY_AUTH, -3601, "proxy authentication failed")                      \
  XX(EPROXY_DENIED, -3602, "the proxy refused the connection")               \
  XX(EPROXY_TARGET, -3603, "the proxy could not connect to the destination") \
  XX(EPROXY_PROTO, -3604, "malformed reply from the proxy")                  \
  XX(EPROXY_CLOSED, -3605, "the proxy closed the connection during its handshake") \
  XX(EPROXY_CONNECT, -3606, "cannot connect to the proxy") \
  /* binaries: yEnc (yenc.h) and NZB (nzb.h) */                              \
  XX(EYENC_FORMAT, -3700, "malformed yEnc data (=ybegin/=ypart/=yend)")      \
  XX(EYENC_CRC, -3701, "yEnc CRC32 mismatch")                                \
  XX(EYENC_SIZE, -3702, "yEnc size does not match the data")                 \
  XX(ENZB_PARSE, -3703, "malformed NZB file")                                \
  XX(ENZB_INCOMPLETE, -3704, "some NZB segments are missing or damaged")      \
  /* journals and resumable uploads (journal.h, tus.h) */                     \
  XX(EJOURNAL, -3800, "journal file is damaged or not nettool's")             \
  XX(EUPLOAD_PROTOCOL, -3810, "the server does not speak the resumable upload protocol") \
  XX(EUPLOAD_OFFSET, -3811, "the server's upload offset does not match")      \
  XX(EUPLOAD_CHECKSUM, -3812, "the server rejected the upload's checksum")    \
  XX(EUPLOAD_REFUSED, -3813, "the server refused the resumable upload")       \
  XX(EUPLOAD_EXPIRED, -3814, "the server no longer has the upload")

typedef enum {
#define NT__ERR_ENUM(name, value, msg) NT_##name = (value),
  NT_ERRNO_MAP(NT__ERR_ENUM)
#undef NT__ERR_ENUM
  NT_OK = 0
} nt_errno_t;

/* Human-readable message for a code; never NULL (unknown codes get a generic
 * text built from strerror for -errno values). The string is static. */
const char *nt_strerror(int code);

/* Symbolic name, e.g. "ECONNREFUSED" or "ELINETOOLONG"; "UNKNOWN" otherwise. */
const char *nt_err_name(int code);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif

#endif
