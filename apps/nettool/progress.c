/* The generic progress bar: bytes, percent, rate and ETA on one stderr line,
 * redrawn from a timer. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "progress.h"

#define INTERVAL_MS 250

void progress_human(char *buf, unsigned size, double v) {
  static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int i = 0;
  while (v >= 1024.0 && i < 4) {
    v /= 1024.0;
    i++;
  }
  snprintf(buf, size, i ? "%.1f %s" : "%.0f %s", v, unit[i]);
}

static void draw(progress_t *p) {
  uint64_t done = p->bytes(p->arg);
  uint64_t total = p->total ? p->total(p->arg) : UINT64_MAX;
  uint64_t now = nt_reactor_now(p->reactor);
  uint64_t dt = now - p->last_ms;
  if (dt >= 200) {
    double inst = done >= p->last_bytes
                      ? (double)(done - p->last_bytes) * 1000.0 / (double)dt
                      : 0;
    p->rate = p->rate == 0 ? inst : 0.7 * p->rate + 0.3 * inst;
    p->last_ms = now;
    p->last_bytes = done;
  }
  char b[32], t[32], r[32], line[160];
  progress_human(b, sizeof b, (double)done);
  progress_human(r, sizeof r, p->rate);
  if (total != UINT64_MAX && total > 0) {
    progress_human(t, sizeof t, (double)total);
    int pct = (int)((double)done * 100.0 / (double)total);
    if (pct > 100) pct = 100;
    char eta[32] = "--:--";
    if (p->rate > 1 && total > done) {
      unsigned long s = (unsigned long)((double)(total - done) / p->rate);
      snprintf(eta, sizeof eta, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
    }
    if (done >= total) /* all moved (uploads: acknowledged); the answer not yet */
      snprintf(line, sizeof line, "%s / %s %3d%%  waiting for the server", b, t, pct);
    else
      snprintf(line, sizeof line, "%s / %s %3d%%  %s/s  ETA %s", b, t, pct, r, eta);
  } else {
    snprintf(line, sizeof line, "%s  %s/s", b, r);
  }
  fprintf(stderr, "\r%s\033[K", line);
  fflush(stderr);
  p->drawn = 1;
}

static void tick(nt_timer_t *t) { draw(t->data); }

void progress_start(progress_t *p, nt_reactor_t *r, int enabled,
                    uint64_t (*bytes)(void *), uint64_t (*total)(void *),
                    void *arg) {
  memset(p, 0, sizeof *p);
  p->reactor = r;
  p->bytes = bytes;
  p->total = total;
  p->arg = arg;
  p->on = enabled && isatty(STDERR_FILENO);
  if (!p->on) return;
  nt_timer_init(r, &p->timer, tick);
  p->timer.data = p;
  nt_timer_unref(&p->timer);
  p->start_ms = p->last_ms = nt_reactor_now(r);
  nt_timer_start(&p->timer, INTERVAL_MS, INTERVAL_MS);
}

void progress_stop(progress_t *p) {
  if (!p->on) return;
  nt_timer_stop(&p->timer);
  if (p->drawn) {
    fputs("\r\033[K", stderr);
    fflush(stderr);
  }
  p->drawn = 0;
  p->on = 0;
}
