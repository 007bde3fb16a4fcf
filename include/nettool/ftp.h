/* FTP client (RFC 959, 2428, 3659, 4217, 2640) on the reactor: one control
 * connection driven by an explicit state machine, a queue of operations with
 * completion callbacks (login, cwd, retrieve, store, list... chained by an
 * embedding program), data connections passive by default (EPSV, then PASV)
 * or active (EPRT, then PORT), explicit and implicit FTPS, and the parsers
 * (PASV/EPSV/MLSD/PWD/MDTM, ftp:// URLs, ~/.netrc) exposed for reuse. */
#ifndef NETTOOL_FTP_H
#define NETTOOL_FTP_H

#include <stddef.h>
#include <stdint.h>

#include <nettool/errno.h>
#include <nettool/protocol.h>
#include <nettool/reactor.h>
#include <nettool/tcp.h>
#include <nettool/tls.h>

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* public: see docs/ABI.md */
#endif

/*
 * Ownership and lifetime
 * ----------------------
 * nt_ftp_t is nettool's. nt_ftp_connect() makes one and connects it; the
 * handle stays valid until its `closed` callback has returned, and must not
 * be used after that. `closed` runs exactly once, from the loop: after a
 * failed connect, a QUIT, nt_ftp_close(), nt_ftp_abort(), a 421 or any
 * connection error. nt_ftp_new() + nt_ftp_protocol() attach a client to a
 * transport the caller provides (the test reactor's, for instance); the
 * transport then owns it like any protocol, and a client never attached is
 * freed with nt_ftp_free().
 *
 * Strings passed in (paths, user, password, host) are copied. The password
 * is sent with NT_PP_SECRET: never logged, wiped from memory once sent.
 * Text handed to callbacks is valid only during the call.
 *
 * Operations
 * ----------
 * Every nt_ftp_* operation below is queued and runs after the ones before
 * it, one at a time; its callback gets an nt_ftp_result_t. An operation that
 * fails does not stop the queue: a program that wants to stop calls
 * nt_ftp_close() from the callback (queued operations then get
 * NT_ECANCELED). When a call returns an error, its callback never runs. The
 * callbacks may queue more operations, close or abort the client.
 *
 * Errors: status 0, or NT_EFTP_REPLY (the server answered with a 4xx/5xx
 * reply: result.code and result.text carry its own words), NT_EFTP_LOGIN,
 * NT_EFTP_CLOSED (421), NT_EFTP_BADREPLY, NT_EFTP_SIZE, NT_EFTP_NOTLS,
 * NT_EFTP_DATA_PEER, NT_EUNEXPECTEDEOF (the control connection closed
 * without a reply), NT_ETIMEDOUT (connect, reply or data-idle timeout),
 * NT_ECONNRESET..., NT_ETLS_*, or the sink's own error.
 */

typedef struct nt_ftp_s nt_ftp_t;

typedef enum {
  NT_FTP_TLS_NONE = 0,
  NT_FTP_TLS_EXPLICIT, /* AUTH TLS on the plain control connection */
  NT_FTP_TLS_IMPLICIT, /* TLS from the first byte (ftps://, port 990) */
} nt_ftp_tls_mode_t;

#define NT_FTP_PORT 21
#define NT_FTPS_PORT 990

typedef struct nt_ftp_options_s {
  int active;            /* data connections in active mode (EPRT/PORT) */
  nt_ftp_tls_mode_t tls; /* explicit TLS protects data too (PBSZ 0, PROT P) */
  /* A client TLS context (tls.h): required for TLS; the caller keeps it
   * until `closed` (each TLS connection also holds its own reference). Data
   * connections resume the control connection's session. */
  nt_tls_ctx_t *tls_ctx;
  /* Name checked against the server certificate; NULL: the connect host. */
  const char *tls_server_name;
  /* Resolving and connecting the control connection and its TLS handshake
   * (implicit TLS: all within this of nt_ftp_connect; AUTH TLS: of its
   * start), each data connection's connect and its TLS handshake. 0: 30 s */
  uint64_t connect_timeout_ms;
  /* A reply must be complete within this of its command (the greeting: of
   * the connection); data moving during a transfer restarts it. The final
   * reply of an upload gets more when much was still buffered: from the
   * moment every byte is in the kernel, this plus twice the time the bytes
   * the server had not acknowledged then take at the transfer's measured
   * rate (at most 1 h); that wait also holds the data connection's idle
   * limit while those bytes drain. 0: 60 s */
  uint64_t reply_timeout_ms;
  /* A data connection without progress for this long (an exact deadline:
   * last progress + this; uploads are sampled at least every 250 ms and
   * every tenth of it). 0: 60 s */
  uint64_t data_timeout_ms;
  size_t max_line;             /* one reply line; 0: 8 KiB */
  size_t max_reply;            /* one (multi-line) reply; 0: 64 KiB */
  size_t max_list_line;        /* one line of a listing; 0: 8 KiB */
  int family;                  /* AF_UNSPEC (0), AF_INET, AF_INET6 */
  /* Through this proxy (proxy.h; NULL: direct): the control connection
   * and every data connection, which is then passive whatever `active`
   * says and goes to the control connection's host (the PASV/EPSV port on
   * the host given to nt_ftp_connect, as seen by the proxy). Not copied:
   * it must stay valid until `closed`. */
  const nt_proxy_t *proxy;
  /* While a transfer's data flows, a NOOP goes out on the otherwise silent
   * control connection every this many ms, so NAT boxes and firewalls do not
   * drop it as idle. Their 200 replies are taken whether the server sends
   * them during the transfer or only after its final reply (vsftpd reads
   * the control connection only between transfers). 0: 60 s;
   * NT_FTP_KEEPALIVE_OFF: never. */
  uint64_t keepalive_ms;
} nt_ftp_options_t;
#define NT_FTP_KEEPALIVE_OFF UINT64_MAX

typedef struct nt_ftp_callbacks_s {
  /* The control connection is up (TCP, and TLS for implicit FTPS); the
   * greeting comes next. May be NULL. */
  void (*connected)(nt_ftp_t *f, void *arg);
  /* The greeting was 220 (and, with explicit TLS, TLS is up): operations
   * start running. May be NULL. */
  void (*ready)(nt_ftp_t *f, void *arg);
  /* The end: status 0 after a QUIT or nt_ftp_close(), else why. Last call. */
  void (*closed)(nt_ftp_t *f, void *arg, int status);
} nt_ftp_callbacks_t;

/* Connects to host:port (0: 21, or 990 with implicit TLS) through the
 * connector (happy eyeballs). Returns 0 and *out, or NT_EINVAL (TLS without
 * a context), NT_EBADPORT, NT_EDNS_BADNAME, NT_ENOMEM: then no callback. */
int nt_ftp_connect_sized(size_t opts_size, nt_reactor_t *r, const char *host,
                         int port, const nt_ftp_options_t *opts,
                         const nt_ftp_callbacks_t *cbs, void *arg,
                         nt_ftp_t **out);
#define nt_ftp_connect(...) \
  nt_ftp_connect_sized(sizeof(nt_ftp_options_t), __VA_ARGS__)

/* A client not connected yet: hand nt_ftp_protocol(f) to a transport. */
int nt_ftp_new_sized(size_t opts_size, nt_reactor_t *r,
                     const nt_ftp_options_t *opts,
                     const nt_ftp_callbacks_t *cbs, void *arg, nt_ftp_t **out);
#define nt_ftp_new(...) nt_ftp_new_sized(sizeof(nt_ftp_options_t), __VA_ARGS__)
nt_protocol_t *nt_ftp_protocol(nt_ftp_t *f);
void nt_ftp_free(nt_ftp_t *f); /* only for a client never attached */

/* Ends the session: queued operations get NT_ECANCELED; a QUIT is sent when
 * the control connection is idle, otherwise it is aborted. `closed` follows
 * from the loop. */
void nt_ftp_close(nt_ftp_t *f);
/* Closes at once (status NT_ECANCELED for whatever is running). */
void nt_ftp_abort(nt_ftp_t *f);

/* --- results -------------------------------------------------------------- */

typedef struct nt_ftp_result_s {
  int status;       /* 0 or a negative NT_E* code */
  int code;         /* the reply that decided it; 0: none */
  const char *text; /* that reply's text (lines joined by "\n"); never NULL */
  uint64_t bytes;   /* data bytes moved by a transfer (after REST) */
  uint64_t size;    /* SIZE, or the size a transfer expected; UINT64_MAX: unknown */
  int64_t mtime;    /* MDTM: seconds since the epoch (UTC); -1: unknown */
  const char *path; /* PWD/MKD: the directory name, unquoted; get_file: the
                       file written (LOCAL, or LOCAL.part when kept) */
  int local;        /* non-zero: status is a local file error (-errno) */
} nt_ftp_result_t;

typedef void (*nt_ftp_done_cb)(nt_ftp_t *f, void *arg,
                               const nt_ftp_result_t *res);

/* --- session operations ------------------------------------------------------ */

/* USER/PASS (user NULL or "": anonymous with password "anonymous@"), then
 * PBSZ 0 + PROT P with TLS. A refused login is NT_EFTP_LOGIN. */
int nt_ftp_login(nt_ftp_t *f, const char *user, const char *pass,
                 nt_ftp_done_cb cb, void *arg);

/* FEAT: the features the server lists (nt_ftp_features afterwards). A
 * server without FEAT is not an error: it just has no features. */
enum {
  NT_FTP_FEAT_MLST = 1u << 0,
  NT_FTP_FEAT_SIZE = 1u << 1,
  NT_FTP_FEAT_MDTM = 1u << 2,
  NT_FTP_FEAT_REST = 1u << 3, /* REST STREAM */
  NT_FTP_FEAT_EPSV = 1u << 4,
  NT_FTP_FEAT_EPRT = 1u << 5,
  NT_FTP_FEAT_UTF8 = 1u << 6,
  NT_FTP_FEAT_AUTH_TLS = 1u << 7,
  NT_FTP_FEAT_TVFS = 1u << 8,
};
int nt_ftp_feat(nt_ftp_t *f, nt_ftp_done_cb cb, void *arg);
unsigned nt_ftp_features(const nt_ftp_t *f);
/* The feature bits of a FEAT reply's text. */
unsigned nt_ftp_parse_feat(const char *text, size_t len);

/* OPTS UTF8 ON (RFC 2640). */
int nt_ftp_utf8(nt_ftp_t *f, nt_ftp_done_cb cb, void *arg);

int nt_ftp_cwd(nt_ftp_t *f, const char *dir, nt_ftp_done_cb cb, void *arg);
int nt_ftp_pwd(nt_ftp_t *f, nt_ftp_done_cb cb, void *arg); /* res->path */
int nt_ftp_mkd(nt_ftp_t *f, const char *dir, nt_ftp_done_cb cb, void *arg);
int nt_ftp_rmd(nt_ftp_t *f, const char *dir, nt_ftp_done_cb cb, void *arg);
int nt_ftp_dele(nt_ftp_t *f, const char *path, nt_ftp_done_cb cb, void *arg);
int nt_ftp_rename(nt_ftp_t *f, const char *from, const char *to,
                  nt_ftp_done_cb cb, void *arg); /* RNFR + RNTO */
int nt_ftp_noop(nt_ftp_t *f, nt_ftp_done_cb cb, void *arg);
/* SIZE (in TYPE I: sent first when needed) -> res->size. */
int nt_ftp_size(nt_ftp_t *f, const char *path, nt_ftp_done_cb cb, void *arg);
int nt_ftp_mdtm(nt_ftp_t *f, const char *path, nt_ftp_done_cb cb, void *arg);
/* QUIT; `closed` follows with status 0. */
int nt_ftp_quit(nt_ftp_t *f, nt_ftp_done_cb cb, void *arg);

/* --- transfers ------------------------------------------------------------------ */

/* Where downloaded bytes go. data() returns 0 to go on, NT_EAGAIN when it
 * took the bytes but cannot take more for now (the data connection is then
 * paused with pause_reading until nt_ftp_resume_data()), or another negative
 * code, which ends the transfer with that status. */
typedef struct nt_ftp_sink_s {
  int (*data)(void *ctx, const char *p, size_t n);
  void *ctx;
} nt_ftp_sink_t;

typedef struct nt_ftp_xfer_options_s {
  int ascii;       /* TYPE A: CRLF <-> LF converted; default TYPE I */
  uint64_t offset; /* >0: REST offset first (resume) */
  /* Uploads: fd is read from `offset` for `length` bytes (UINT64_MAX: until
   * end of file, read(2) on pipes). A binary upload of a regular file is
   * sent with write_file (sendfile on TCP). The fd stays the caller's and
   * must stay open until the callback. */
  int fd;
  uint64_t length;
  int append;      /* APPE instead of STOR */
  int verify_size; /* after an upload: SIZE must match what was sent */
} nt_ftp_xfer_options_t;

/* RETR: bytes go to the sink. The transfer succeeds only with a final 226
 * (or 250) AND a data connection closed cleanly AND, when the size is known
 * (SIZE, or "(N bytes)" in the 150 reply; binary mode), offset + bytes equal
 * to it (else NT_EFTP_SIZE).
 *
 * For every transfer (retrieve, store, list): a 4xx/5xx final reply is
 * NT_EFTP_REPLY with the server's words even when the data connection
 * failed first (some servers reset it, then send 550); a data connection
 * that fails with no final reply within 1 s ends the session with its error
 * (nt_ftp_failure_where: NT_FTP_WHERE_DATA or _DATA_TLS). With PROT P the
 * data connection's TLS handshake starts after the server's 1xx reply. */
int nt_ftp_retrieve_sized(size_t opts_size, nt_ftp_t *f, const char *path,
                          const nt_ftp_xfer_options_t *xo,
                          const nt_ftp_sink_t *sink, nt_ftp_done_cb cb,
                          void *arg);
#define nt_ftp_retrieve(...) \
  nt_ftp_retrieve_sized(sizeof(nt_ftp_xfer_options_t), __VA_ARGS__)

/* STOR (or APPE) from xo->fd. */
int nt_ftp_store_sized(size_t opts_size, nt_ftp_t *f, const char *path,
                       const nt_ftp_xfer_options_t *xo, nt_ftp_done_cb cb,
                       void *arg);
#define nt_ftp_store(...) \
  nt_ftp_store_sized(sizeof(nt_ftp_xfer_options_t), __VA_ARGS__)

/* Resumes a data connection paused by a sink returning NT_EAGAIN. */
void nt_ftp_resume_data(nt_ftp_t *f);

/* Bytes moved so far by the running transfer, and the size expected
 * (UINT64_MAX: unknown), for progress displays. 0 when none runs. Uploads
 * count the bytes the server's TCP acknowledged (nt_transport_unacked;
 * approximate over TLS), not those handed to the kernel. */
uint64_t nt_ftp_xfer_bytes(nt_ftp_t *f);
uint64_t nt_ftp_xfer_size(const nt_ftp_t *f);

/* --- listings ---------------------------------------------------------------------- */

typedef enum {
  NT_FTP_LIST_LIST, /* LIST: the server's own "ls -l" lines */
  NT_FTP_LIST_NLST, /* NLST: names */
  NT_FTP_LIST_MLSD, /* MLSD: machine-readable facts (RFC 3659) */
} nt_ftp_list_kind_t;

typedef enum {
  NT_FTP_ENTRY_FILE,
  NT_FTP_ENTRY_DIR,
  NT_FTP_ENTRY_CDIR, /* the listed directory itself */
  NT_FTP_ENTRY_PDIR, /* its parent */
  NT_FTP_ENTRY_LINK,
  NT_FTP_ENTRY_OTHER,
  NT_FTP_ENTRY_UNKNOWN, /* no type fact */
} nt_ftp_entry_type_t;

/* One MLSD line, parsed. name points into the line. */
typedef struct nt_ftp_entry_s {
  const char *name;
  size_t name_len;
  nt_ftp_entry_type_t type;
  uint64_t size; /* UINT64_MAX: unknown */
  int64_t mtime; /* seconds since the epoch, UTC; -1: unknown */
  int unix_mode; /* UNIX.mode; -1: unknown */
} nt_ftp_entry_t;

/* One line of a listing (without CRLF); for MLSD also its parsed entry
 * (NULL when the line does not parse: it is still shown). */
typedef void (*nt_ftp_line_cb)(void *arg, const char *line, size_t len,
                               const nt_ftp_entry_t *entry);

/* LIST/NLST/MLSD of path (NULL or "": the current directory). Lines go to
 * line(line_arg...); a line over max_list_line ends it with NT_ELINETOOLONG. */
int nt_ftp_list(nt_ftp_t *f, nt_ftp_list_kind_t kind, const char *path,
                nt_ftp_line_cb line, void *line_arg, nt_ftp_done_cb cb,
                void *arg);

/* --- files: the download/upload helpers the CLI uses ------------------------------ */

typedef struct nt_ftp_file_options_s {
  int ascii;
  /* Continue LOCAL.part from its size with REST, instead of starting over. */
  int resume;
  int append;      /* uploads: APPE */
  int verify_size; /* uploads: check SIZE afterwards (when the server has it) */
} nt_ftp_file_options_t;

/*
 * Downloads remote to local through "local.part": bytes are written as they
 * come (the data connection is read only as fast as the file takes them);
 * only after a 226 and a matching size is the part file renamed over local.
 * A failed transfer leaves local untouched and keeps the part file (if it
 * got any bytes) so that resume can continue it. res->path is local.
 */
int nt_ftp_get_file_sized(size_t opts_size, nt_ftp_t *f, const char *remote,
                          const char *local, const nt_ftp_file_options_t *fo,
                          nt_ftp_done_cb cb, void *arg);
#define nt_ftp_get_file(...) \
  nt_ftp_get_file_sized(sizeof(nt_ftp_file_options_t), __VA_ARGS__)

/* Uploads the regular file local to remote (sendfile on plain TCP). */
int nt_ftp_put_file_sized(size_t opts_size, nt_ftp_t *f, const char *local,
                          const char *remote, const nt_ftp_file_options_t *fo,
                          nt_ftp_done_cb cb, void *arg);
#define nt_ftp_put_file(...) \
  nt_ftp_put_file_sized(sizeof(nt_ftp_file_options_t), __VA_ARGS__)

/* --- state ------------------------------------------------------------------------- */

/* What the last failure was about, for messages: which limit ran out
 * (with NT_ETIMEDOUT) or which connection failed. Valid in the failed
 * operation's callback and in `closed`; the next operation resets it. */
typedef enum {
  NT_FTP_WHERE_NONE = 0,
  NT_FTP_WHERE_CONNECT,      /* resolving/connecting the control connection */
  NT_FTP_WHERE_TLS,          /* the control connection's TLS handshake */
  NT_FTP_WHERE_REPLY,        /* a reply (the greeting included) */
  /* the data connection's, last (>= NT_FTP_WHERE_DATA_CONNECT): */
  NT_FTP_WHERE_DATA_CONNECT, /* connecting it (passive) */
  NT_FTP_WHERE_DATA,         /* no progress on it, or it failed */
  NT_FTP_WHERE_DATA_TLS,     /* its TLS handshake */
} nt_ftp_where_t;
nt_ftp_where_t nt_ftp_failure_where(const nt_ftp_t *f);

/* The control connection's state, by name ("READY", "PASV", "XFER"...). */
const char *nt_ftp_state_name(const nt_ftp_t *f);
/* Last reply code and text seen (0 and "" before any). */
int nt_ftp_last_code(const nt_ftp_t *f);
const char *nt_ftp_last_reply(const nt_ftp_t *f);
/* Non-zero while the control connection is protected by TLS. */
int nt_ftp_is_tls(const nt_ftp_t *f);

/* --- parsers (also fuzzed) --------------------------------------------------------- */

/* "229 Entering Extended Passive Mode (|||6446|)": the port, or
 * NT_EFTP_BADREPLY. Any delimiter in 33..126 is accepted (RFC 2428). */
int nt_ftp_parse_epsv(const char *text, size_t len);
/* "227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)": the port (the address is
 * stored in ip, for logging only: it is never used), or NT_EFTP_BADREPLY. */
int nt_ftp_parse_pasv(const char *text, size_t len, uint8_t ip[4]);
/* An MLSD/MLST line: 0 or NT_EFTP_BADREPLY. */
int nt_ftp_parse_mlsd_sized(size_t out_size, const char *line, size_t len,
                            nt_ftp_entry_t *e);
#define nt_ftp_parse_mlsd(...) \
  nt_ftp_parse_mlsd_sized(sizeof(nt_ftp_entry_t), __VA_ARGS__)
/* "257 \"/a \"\"quoted\"\" dir\" created": the name into out (NUL-ended);
 * 0, NT_EFTP_BADREPLY or NT_ETOOBIG. */
int nt_ftp_parse_pathname(const char *text, size_t len, char *out,
                          size_t size);
/* "YYYYMMDDHHMMSS[.sss]" (MDTM, MLSD modify): seconds since the epoch, or
 * -1. */
int64_t nt_ftp_parse_time(const char *s, size_t len);
/* A decimal size (SIZE reply, MLSD size): 0 and *out, or NT_EFTP_BADREPLY. */
int nt_ftp_parse_size(const char *s, size_t len, uint64_t *out);
/* "(12345 bytes)" in a 150 reply: 0 and *out, or NT_EFTP_BADREPLY. */
int nt_ftp_parse_150_size(const char *text, size_t len, uint64_t *out);

/* --- URLs and ~/.netrc -------------------------------------------------------------- */

#define NT_FTP_URL_MAX 1024

/* ftp://[user[:password]@]host[:port][/path] or ftps://... (implicit TLS),
 * with %XX escapes decoded (an escaped CR, LF or NUL is refused). The path
 * keeps what follows the host's "/", so "ftp://h/pub/f" is "pub/f"
 * (relative to the login directory) and "ftp://h//etc/f" is "/etc/f". An
 * IPv6 host is written in brackets. */
typedef struct nt_ftp_url_s {
  int tls;  /* 1 for ftps:// */
  int port; /* 0 when not given */
  int has_user, has_pass;
  char host[256];
  char user[256];
  char pass[256];
  char path[NT_FTP_URL_MAX];
} nt_ftp_url_t;

/* 0, or NT_EINVAL with a short reason in *why (static text). */
int nt_ftp_parse_url(const char *url, nt_ftp_url_t *u, const char **why);

/* Looks host up in a .netrc file (path NULL: $HOME/.netrc): "machine host
 * login L password P" (or "default"). When user is non-empty, only entries
 * with that login match. Returns 1 and fills login/password when found, 0
 * when not (or there is no file), or NT_ETOOBIG (file over 64 KiB, a token
 * over 255 bytes). */
int nt_ftp_netrc_lookup(const char *path, const char *host, const char *user,
                        char *login, size_t login_size, char *password,
                        size_t password_size);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif

#endif
