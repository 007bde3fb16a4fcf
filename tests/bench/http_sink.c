/* A fast HTTP sink for tests/bench/http_bench.sh: accepts one connection at
 * a time on 127.0.0.1, answers "Expect: 100-continue" at once, reads the
 * request body (Content-Length or chunked) and throws it away, answers 200
 * with the byte count. Plain TCP bodies are discarded in the kernel
 * (recv MSG_TRUNC), so the sink costs the uploader nothing; with --tls it
 * decrypts with OpenSSL. Not part of the suite.
 *   cc -O2 http_sink.c -o http_sink -lssl -lcrypto
 *   http_sink PORTFILE [--tls CERT KEY]   (writes the port it listens on) */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define BUF (1 << 20)

static SSL_CTX *ctx;
static char buf[BUF];

typedef struct {
  int fd;
  SSL *ssl;
  char *pend; /* bytes read past the head */
  size_t plen;
} conn_t;

static ssize_t rd(conn_t *c, char *p, size_t n, int discard) {
  if (c->plen) {
    size_t k = c->plen < n ? c->plen : n;
    if (!discard) memcpy(p, c->pend, k);
    c->pend += k;
    c->plen -= k;
    return (ssize_t)k;
  }
  if (c->ssl) {
    int r = SSL_read(c->ssl, p, (int)(n > BUF ? BUF : n));
    return r > 0 ? r : -1;
  }
  for (;;) {
    ssize_t r =
        discard ? recv(c->fd, NULL, n, MSG_TRUNC) : recv(c->fd, p, n, 0);
    if (r < 0 && errno == EINTR) continue;
    return r > 0 ? r : -1;
  }
}

static int wr(conn_t *c, const char *p, size_t n) {
  if (c->ssl) return SSL_write(c->ssl, p, (int)n) == (int)n ? 0 : -1;
  while (n) {
    ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Reads a line (for chunk sizes) from the connection. */
static int line(conn_t *c, char *out, size_t size) {
  size_t k = 0;
  char ch;
  while (k + 1 < size) {
    if (rd(c, &ch, 1, 0) != 1) return -1;
    if (ch == '\n') break;
    if (ch != '\r') out[k++] = ch;
  }
  out[k] = 0;
  return 0;
}

static long long discard(conn_t *c, long long n) {
  long long got = 0;
  while (got < n) {
    long long want = n - got < BUF ? n - got : BUF;
    ssize_t r = rd(c, buf, (size_t)want, 1);
    if (r <= 0) return -1;
    got += r;
  }
  return got;
}

static void serve(conn_t *c) {
  static char head[65536];
  size_t hl = 0;
  char *end = NULL;
  while (!end) {
    if (hl + 1 >= sizeof head) return;
    ssize_t r = c->ssl
                    ? SSL_read(c->ssl, head + hl, (int)(sizeof head - 1 - hl))
                    : recv(c->fd, head + hl, sizeof head - 1 - hl, 0);
    if (r <= 0) return;
    hl += (size_t)r;
    head[hl] = 0;
    end = strstr(head, "\r\n\r\n");
  }
  c->pend = end + 4;
  c->plen = hl - (size_t)(c->pend - head);
  *end = 0;
  long long clen = 0;
  int chunked = 0, expect = 0;
  for (char *l = strstr(head, "\r\n"); l; l = strstr(l + 2, "\r\n")) {
    char *h = l + 2;
    if (!strncasecmp(h, "Content-Length:", 15)) clen = atoll(h + 15);
    if (!strncasecmp(h, "Transfer-Encoding:", 18) && strstr(h, "chunked"))
      chunked = 1;
    if (!strncasecmp(h, "Expect:", 7) && strstr(h, "100-continue")) expect = 1;
  }
  if (expect && wr(c, "HTTP/1.1 100 Continue\r\n\r\n", 25)) return;
  long long total = 0;
  if (chunked) {
    char l[64];
    for (;;) {
      if (line(c, l, sizeof l)) return;
      long long n = strtoll(l, NULL, 16);
      if (n == 0) {
        while (!line(c, l, sizeof l) && l[0]) { /* trailers */
        }
        break;
      }
      if (discard(c, n) < 0 || line(c, l, sizeof l)) return;
      total += n;
    }
  } else {
    if ((total = discard(c, clen)) < 0) return;
  }
  char reply[160];
  char body[48];
  int bl = snprintf(body, sizeof body, "%lld\n", total);
  int n = snprintf(
      reply, sizeof reply,
      "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
      bl, body);
  wr(c, reply, (size_t)n);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: http_sink PORTFILE [--tls CERT KEY]\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  if (argc >= 5 && !strcmp(argv[2], "--tls")) {
    ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, argv[3]) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, argv[4], SSL_FILETYPE_PEM) != 1) {
      ERR_print_errors_fp(stderr);
      return 1;
    }
  }
  int s = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t al = sizeof a;
  if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 16) ||
      getsockname(s, (struct sockaddr *)&a, &al)) {
    perror("http_sink");
    return 1;
  }
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", argv[1]);
  FILE *f = fopen(tmp, "w");
  if (!f) return 1;
  fprintf(f, "%d\n", ntohs(a.sin_port));
  fclose(f);
  rename(tmp, argv[1]);
  for (;;) {
    conn_t c;
    memset(&c, 0, sizeof c);
    c.fd = accept(s, NULL, NULL);
    if (c.fd < 0) continue;
    if (ctx) {
      c.ssl = SSL_new(ctx);
      SSL_set_fd(c.ssl, c.fd);
      if (SSL_accept(c.ssl) == 1) serve(&c);
      SSL_shutdown(c.ssl);
      SSL_free(c.ssl);
    } else {
      serve(&c);
    }
    close(c.fd);
  }
}
