/* The progress bar of http-upload / http-get: one stderr line redrawn from
 * a reactor timer (never from the data path), only when stderr is a
 * terminal and --quiet is not given: bytes, percent, rate, ETA. An upload
 * counts the bytes the server acknowledged, not those handed to the
 * kernel (which can be megabytes ahead), and once the whole body is handed
 * over says "waiting for the server" until the answer comes. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd_http_common.h"
#include "nettool/http_download.h"

#define BAR_INTERVAL_MS 250

static void human(char *buf, size_t size, double v) {
  static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int i = 0;
  while (v >= 1024.0 && i < 4) {
    v /= 1024.0;
    i++;
  }
  if (i == 0)
    snprintf(buf, size, "%.0f %s", v, unit[i]);
  else
    snprintf(buf, size, "%.1f %s", v, unit[i]);
}

static void draw(http_cli_t *h) {
  uint64_t done;
  int64_t total;
  int waiting = 0;
  if (h->dl) { /* a download: the part file's bytes, resumed ones too */
    nt_http_download_info_t i;
    nt_http_download_info(h->dl, &i);
    done = i.offset;
    total = i.total;
  } else {
    if (!h->req) return;
    nt_http_progress_t p;
    nt_http_request_progress(h->req, &p);
    done = h->upload ? p.acked : p.received;
    total = h->upload ? p.send_total : p.receive_total;
    waiting = h->upload && total >= 0 && p.sent >= (uint64_t)total &&
              !nt_http_request_response(h->req);
  }
  uint64_t now = nt_reactor_now(h->reactor);
  uint64_t dt = now - h->bar_last_ms;
  if (dt >= 200) { /* smoothed rate */
    double inst = (double)(done - h->bar_last_bytes) * 1000.0 / (double)dt;
    h->bar_rate = h->bar_rate == 0 ? inst : 0.7 * h->bar_rate + 0.3 * inst;
    h->bar_last_ms = now;
    h->bar_last_bytes = done;
  }
  char b[32], t[32], r[32], line[160];
  human(b, sizeof b, (double)done);
  human(r, sizeof r, h->bar_rate);
  if (total > 0) {
    human(t, sizeof t, (double)total);
    int pct = (int)((double)done * 100.0 / (double)total);
    if (pct > 100) pct = 100;
    char eta[32] = "--:--";
    if (h->bar_rate > 1 && (uint64_t)total > done) {
      unsigned long s =
          (unsigned long)((double)((uint64_t)total - done) / h->bar_rate);
      snprintf(eta, sizeof eta, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60,
               s % 60);
    }
    if (waiting)
      snprintf(line, sizeof line, "%s / %s %3d%%  waiting for the server", b,
               t, pct);
    else
      snprintf(line, sizeof line, "%s / %s %3d%%  %s/s  ETA %s", b, t, pct, r,
               eta);
  } else {
    snprintf(line, sizeof line, "%s  %s/s", b, r);
  }
  fprintf(stderr, "\r%s\033[K", line);
  fflush(stderr);
  h->bar_drawn = 1;
}

static void bar_cb(nt_timer_t *t) { draw(t->data); }

void http_progress_start(http_cli_t *h) {
  h->bar = !h->quiet && isatty(STDERR_FILENO);
  if (!h->bar) return;
  nt_timer_init(h->reactor, &h->bar_timer, bar_cb);
  h->bar_timer.data = h;
  nt_timer_unref(&h->bar_timer); /* the request keeps the loop alive */
  h->bar_start = h->bar_last_ms = nt_reactor_now(h->reactor);
  nt_timer_start(&h->bar_timer, BAR_INTERVAL_MS, BAR_INTERVAL_MS);
}

void http_progress_clear(http_cli_t *h) {
  if (h->bar_drawn) {
    fputs("\r\033[K", stderr);
    fflush(stderr);
    h->bar_drawn = 0;
  }
}

void http_progress_stop(http_cli_t *h) {
  if (!h->bar) return;
  nt_timer_stop(&h->bar_timer);
  http_progress_clear(h);
  h->bar = 0;
}
