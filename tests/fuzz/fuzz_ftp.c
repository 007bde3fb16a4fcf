/* Fuzz the FTP client as a hostile server, and its parsers. The first byte
 * picks the target:
 *   0  the parsers (EPSV, PASV, MLSD, path names, times, sizes, "(N bytes)",
 *      FEAT), once per input line;
 *   1  a whole session: the input up to the first NUL is what the server
 *      says on the control connection (fed in chunks), the rest is what
 *      every data connection carries; the client logs in, lists with MLSD,
 *      downloads, renames, asks SIZE/MDTM/PWD and quits, in passive or
 *      active mode;
 *   2  ftp:// URLs;
 *   3  ~/.netrc files.
 * Anything may happen except a crash, a leak or unbounded memory. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ftp/ftp-int.h"
#include "nettool/ftp.h"
#include "nettool/testing.h"

static nt_reactor_t *R;

/* --- 0: the parsers ----------------------------------------------------------- */

static void parsers(const char *p, size_t n) {
  uint8_t ip[4];
  nt_ftp_entry_t e;
  char out[64];
  uint64_t v;
  int port = nt_ftp_parse_epsv(p, n);
  if (port != NT_EFTP_BADREPLY && (port < 1 || port > 65535)) abort();
  port = nt_ftp_parse_pasv(p, n, ip);
  if (port != NT_EFTP_BADREPLY && (port < 1 || port > 65535)) abort();
  if (nt_ftp_parse_mlsd(p, n, &e) == 0) {
    if (!e.name_len || e.name < p || e.name + e.name_len > p + n) abort();
  }
  if (nt_ftp_parse_pathname(p, n, out, sizeof out) == 0 && strlen(out) >= sizeof out) abort();
  int64_t t = nt_ftp_parse_time(p, n);
  if (t < -1) abort();
  nt_ftp_parse_size(p, n, &v);
  nt_ftp_parse_150_size(p, n, &v);
  nt_ftp_parse_feat(p, n);
}

/* --- 1: a session --------------------------------------------------------------- */

static const uint8_t *data_in;
static size_t data_len;
static nt_test_transport_t *data_tt[8];
static int ndata;

static void open_data(nt_factory_t *fac) {
  struct sockaddr_storage ss;
  socklen_t len;
  nt_addr_parse("127.0.0.1", 20, &ss, &len);
  nt_protocol_t *p = fac->ops->build_protocol(fac, (struct sockaddr *)&ss, len);
  if (!p) return;
  nt_test_transport_t *tt = nt_test_transport_new(R, p);
  if (ndata < 8)
    data_tt[ndata++] = tt;
  else
    nt_test_transport_free(tt);
  if (data_len) nt_test_feed(tt, data_in, data_len);
  nt_test_feed_eof(tt);
}

typedef struct {
  nt_factory_t *fac;
  int cancelled;
  int listening;
} pending_t;

static pending_t pend[8];
static int npend;

static void connect_cb(void *arg) {
  pending_t *pd = arg;
  if (pd->cancelled)
    pd->fac->ops->connection_failed(pd->fac, NULL, NT_ECANCELED);
  else
    open_data(pd->fac);
}

static int fz_connect(nt_reactor_t *r, const struct sockaddr *sa, socklen_t len,
                      nt_factory_t *fac, const nt_tcp_connect_options_t *o,
                      void **handle) {
  (void)sa, (void)len, (void)o;
  if (npend >= 8) return NT_EMFILE;
  pending_t *pd = &pend[npend++];
  memset(pd, 0, sizeof *pd);
  pd->fac = fac;
  *handle = pd;
  nt_call_soon(r, connect_cb, pd);
  return 0;
}

static void fz_cancel(void *h) { ((pending_t *)h)->cancelled = 1; }

static void accept_cb(void *arg) {
  pending_t *pd = arg;
  if (!pd->cancelled) open_data(pd->fac);
}

static int fz_listen(nt_reactor_t *r, const char *addr, nt_factory_t *fac,
                     void **handle, int *port) {
  (void)addr;
  if (npend >= 8) return NT_EMFILE;
  pending_t *pd = &pend[npend++];
  memset(pd, 0, sizeof *pd);
  pd->fac = fac;
  pd->listening = 1;
  *handle = pd;
  *port = 40000;
  nt_call_soon(r, accept_cb, pd);
  return 0;
}

static void fz_unlisten(void *h) { ((pending_t *)h)->cancelled = 1; }

static const nt__ftp_net_ops_t fz_net = {
    .connect = fz_connect,
    .cancel = fz_cancel,
    .listen = fz_listen,
    .unlisten = fz_unlisten,
};

static int sink(void *ctx, const char *p, size_t n) {
  (void)ctx, (void)p;
  return n > 3000 ? NT_EAGAIN : 0;
}

static void done(nt_ftp_t *f, void *arg, const nt_ftp_result_t *r) {
  (void)arg;
  if (!r->text || !r->path) abort();
  if (r->status == NT_EAGAIN) nt_ftp_resume_data(f);
}

static void on_line(void *arg, const char *line, size_t len,
                    const nt_ftp_entry_t *e) {
  (void)arg;
  if (memchr(line, '\n', len)) abort();
  if (e && (e->name < line || e->name + e->name_len > line + len)) abort();
}

static void session(const uint8_t *in, size_t n, int active, size_t chunk) {
  const uint8_t *nul = memchr(in, 0, n);
  size_t ctl = nul ? (size_t)(nul - in) : n;
  data_in = nul ? nul + 1 : NULL;
  data_len = nul ? n - ctl - 1 : 0;
  ndata = npend = 0;
  nt_ftp_options_t o;
  memset(&o, 0, sizeof o);
  o.active = active;
  o.max_line = 256;
  o.max_reply = 1024;
  o.max_list_line = 128;
  o.reply_timeout_ms = 5000;
  o.data_timeout_ms = 3000;
  nt_ftp_t *f;
  if (nt_ftp_new(R, &o, NULL, NULL, &f)) abort();
  nt_ftp_sink_t s = {.data = sink};
  nt_ftp_login(f, "u", "p", done, NULL);
  nt_ftp_feat(f, done, NULL);
  nt_ftp_pwd(f, done, NULL);
  nt_ftp_list(f, NT_FTP_LIST_MLSD, "d", on_line, NULL, done, NULL);
  nt_ftp_retrieve(f, "f", NULL, &s, done, NULL);
  nt_ftp_rename(f, "a", "b", done, NULL);
  nt_ftp_size(f, "f", done, NULL);
  nt_ftp_mdtm(f, "f", done, NULL);
  nt_ftp_quit(f, done, NULL);
  nt_test_transport_t *tt = nt_test_transport_new(R, nt_ftp_protocol(f));
  for (size_t pos = 0; pos < ctl && !nt_test_is_lost(tt); pos += chunk) {
    size_t k = ctl - pos < chunk ? ctl - pos : chunk;
    nt_test_feed(tt, in + pos, k);
    nt_test_run_pending(R);
    if (nt_test_is_lost(tt)) break;
    nt_ftp_resume_data(f);
  }
  nt_test_clock_advance(R, 12000); /* every timeout fires */
  nt_test_transport_free(tt);
  for (int i = 0; i < ndata; i++) nt_test_transport_free(data_tt[i]);
  nt_test_run_pending(R);
}

/* --- 3: .netrc -------------------------------------------------------------------- */

static void netrc(const uint8_t *in, size_t n) {
  int fd = memfd_create("netrc", 0);
  if (fd < 0) return;
  if (write(fd, in, n) == (ssize_t)n) {
    char path[64], l[32], p[32];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    nt_ftp_netrc_lookup(path, "host", NULL, l, sizeof l, p, sizeof p);
    nt_ftp_netrc_lookup(path, "host", "user", l, sizeof l, p, sizeof p);
  }
  close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  if (!R) {
    if (nt_test_reactor_new(&R)) abort();
    nt__ftp_net_ops = &fz_net;
  }
  const char *p = (const char *)data + 1;
  size_t n = size - 1;
  switch (data[0] & 3) {
  case 0: {
    size_t i = 0;
    while (i <= n) { /* bounded: every turn moves past one line */
      const char *nl = memchr(p + i, '\n', n - i);
      size_t end = nl ? (size_t)(nl - p) : n;
      char *line = malloc(end - i + 1); /* exactly the line: no terminator */
      memcpy(line, p + i, end - i);
      parsers(line, end - i);
      free(line);
      i = end + 1;
    }
    break;
  }
  case 1:
    session(data + 1, n, (data[0] >> 2) & 1, (size_t)(data[0] >> 3) % 13 + 1);
    break;
  case 2: {
    char *s = malloc(n + 1);
    memcpy(s, p, n);
    s[n] = 0;
    nt_ftp_url_t u;
    const char *why;
    if (nt_ftp_parse_url(s, &u, &why) == 0 && (!u.host[0] || strlen(u.path) >= sizeof u.path))
      abort();
    free(s);
    break;
  }
  default:
    netrc(data + 1, n);
  }
  return 0;
}
