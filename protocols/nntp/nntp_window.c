/* NNTP client: the pipelining window (RFC 3977 3.5). How many requests
 * may be in flight follows the round trip: with a window of W, a round
 * trip of RTT and replies that come every S ms while the pipe is full,
 * the server idles unless W >= RTT / S (Little's law). Each round of W
 * replies measures S (elapsed / replies) and aims at 4 * RTT / S: while
 * the round trip dominates, a round of W replies takes about one RTT, so
 * the aim is 4W and the window doubles per round (slow start), up to the
 * ceiling. Four, not one: requests queued behind a stall on the path (a
 * sender's Nagle waiting for a delayed ACK) see twice the idle round trip
 * or more, and a window sized for the idle one would never outgrow it. It never shrinks: once the server's own time dominates, the aim
 * falls below W and the window stays (a deeper window costs the server a
 * fuller socket buffer, nothing more), and a slow round caused by the
 * path (a delayed ACK, a retransmission) does not undo what was learned.
 * RTT samples come only from commands sent while nothing else was awaited
 * (set-up commands, the first request after an idle moment), so queueing
 * behind a full pipe never inflates them. Times are the reactor's (ms; the
 * virtual clock in tests). */
#include "nntp-int.h"
#include "reactor-int.h"

#define FIRST_WINDOW 8u
#define MIN_WINDOW 2u

void nt__nntp_window_init(nt_nntp_t *c) {
  c->window = c->max_window < FIRST_WINDOW ? c->max_window : FIRST_WINDOW;
  c->round_start = 0;
  c->round_replies = 0;
}

static unsigned clamp(uint64_t w, unsigned max) {
  if (w < MIN_WINDOW) w = MIN_WINDOW;
  if (w > max) w = max;
  return (unsigned)w;
}

void nt__nntp_window_rtt(nt_nntp_t *c, uint64_t sent_at) {
  uint64_t now = nt_reactor_now(c->reactor);
  if (sent_at == UINT64_MAX || now < sent_at) return;
  uint64_t s = now - sent_at;
  /* a smoothed mean (1/4 weight), the first sample taken as it is */
  c->rtt_ms = c->rtt_known ? (3 * c->rtt_ms + s) / 4 : s;
  c->rtt_known = 1;
}

void nt__nntp_window_reply(nt_nntp_t *c, uint64_t sent_at, int alone) {
  uint64_t now = nt_reactor_now(c->reactor);
  if (alone) nt__nntp_window_rtt(c, sent_at);
  if (c->max_window <= 1) return;
  if (!c->round_replies) c->round_start = sent_at != UINT64_MAX ? sent_at : now;
  c->round_replies++;
  if (c->round_replies < c->window) return;
  uint64_t elapsed = now - c->round_start;
  unsigned w;
  if (!c->rtt_known)
    w = clamp((uint64_t)c->window * 2, c->max_window);
  else if (elapsed == 0 || c->rtt_ms == 0)
    /* a whole round within a millisecond: loopback or a LAN; a deep
     * window costs nothing there and keeps the server busy */
    w = clamp((uint64_t)c->window * 2, c->max_window);
  else {
    uint64_t aim = (4 * c->rtt_ms * c->round_replies + elapsed - 1) / elapsed;
    uint64_t twice = (uint64_t)c->window * 2;
    w = clamp(aim > twice ? twice : aim, c->max_window);
    if (w < c->window) w = c->window; /* never shrinks */
  }
  if (w != c->window)
    NT__DEBUG("nntp %p: window %u -> %u (rtt %llu ms, %u replies in %llu ms)",
              (void *)c, c->window, w, (unsigned long long)c->rtt_ms,
              c->round_replies, (unsigned long long)elapsed);
  c->window = w;
  c->round_replies = 0;
}

unsigned nt_nntp_pipeline_window(const nt_nntp_t *c) { return c->window; }
uint64_t nt_nntp_rtt_ms(const nt_nntp_t *c) { return c->rtt_ms; }
size_t nt_nntp_peak_in_flight(const nt_nntp_t *c) { return c->peak_flight; }
size_t nt_nntp_in_flight(const nt_nntp_t *c) { return c->nflight; }
int nt_nntp_is_compressed(const nt_nntp_t *c) { return c->compress_active; }
