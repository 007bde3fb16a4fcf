/* Length-prefixed framing: a 32-bit big-endian length, then the message. */
#include <string.h>

#include "nettool/framing.h"
#include "reactor-int.h"

void nt_msg_reader_init(nt_msg_reader_t *mr, size_t max_size) {
  memset(mr, 0, sizeof *mr);
  mr->max_size = max_size;
}

void nt_msg_reader_free(nt_msg_reader_t *mr) {
  nt__free(mr->buf);
  mr->buf = NULL;
  mr->len = mr->cap = 0;
}

int nt_msg_reader_feed(nt_msg_reader_t *mr, const char *data, size_t len,
                       nt_frame_cb cb, void *arg, size_t *consumed) {
  size_t pos = 0;
  int rc = 0;
  while (pos < len) {
    if (mr->hdr_len < 4) {
      mr->hdr[mr->hdr_len++] = (uint8_t)data[pos++];
      if (mr->hdr_len < 4) continue;
      mr->want = (uint32_t)mr->hdr[0] << 24 | (uint32_t)mr->hdr[1] << 16 |
                 (uint32_t)mr->hdr[2] << 8 | mr->hdr[3];
      if (mr->want > mr->max_size) {
        rc = NT_ETOOBIG;
        break;
      }
      if (mr->want > 0) continue;
      mr->hdr_len = 0;
      rc = cb(arg, "", 0);
      if (rc) break;
      continue;
    }
    size_t need = mr->want - mr->len;
    size_t avail = len - pos;
    if (!mr->len && avail >= need) {
      /* Whole message in this chunk: no copy. */
      pos += need;
      mr->hdr_len = 0;
      rc = cb(arg, data + pos - need, need);
      if (rc) break;
      continue;
    }
    if (!mr->buf || mr->cap < mr->want) {
      char *b = nt__realloc(mr->buf, mr->want);
      if (!b) {
        rc = NT_ENOMEM;
        break;
      }
      mr->buf = b;
      mr->cap = mr->want;
    }
    size_t take = avail < need ? avail : need;
    memcpy(mr->buf + mr->len, data + pos, take);
    mr->len += take;
    pos += take;
    if (mr->len == mr->want) {
      char *msg = mr->buf;
      size_t mlen = mr->len;
      mr->buf = NULL;
      mr->len = mr->cap = 0;
      mr->hdr_len = 0;
      rc = cb(arg, msg, mlen);
      nt__free(msg);
      if (rc) break;
    }
  }
  if (consumed) *consumed = pos;
  return rc;
}

int nt_msg_write(nt_transport_t *t, const void *data, size_t len) {
  if (len > UINT32_MAX) return NT_ETOOBIG;
  uint8_t h[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16),
                  (uint8_t)(len >> 8), (uint8_t)len};
  struct iovec iov[2] = {{h, 4}, {(void *)data, len}};
  return nt_transport_writev(t, iov, 2);
}

static int mr_msg_cb(void *arg, const char *data, size_t len) {
  nt_msg_receiver_t *mr = arg;
  mr->ops->message_received(mr, data, len);
  return !mr->base.transport || nt_transport_is_closing(mr->base.transport);
}

static void mr_connection_made(nt_protocol_t *p, nt_transport_t *t) {
  nt_msg_receiver_t *mr = (nt_msg_receiver_t *)p;
  if (mr->ops->connection_made) mr->ops->connection_made(mr, t);
}

static void mr_data_received(nt_protocol_t *p, const char *data, size_t len) {
  nt_msg_receiver_t *mr = (nt_msg_receiver_t *)p;
  int rc = nt_msg_reader_feed(&mr->reader, data, len, mr_msg_cb, mr, NULL);
  if (rc < 0 && p->transport) nt_transport_abort_error(p->transport, rc);
}

static void mr_connection_lost(nt_protocol_t *p, int status) {
  nt_msg_receiver_t *mr = (nt_msg_receiver_t *)p;
  nt_msg_reader_free(&mr->reader);
  if (mr->ops->connection_lost) mr->ops->connection_lost(mr, status);
}

static void mr_destroy(nt_protocol_t *p) {
  nt_msg_receiver_t *mr = (nt_msg_receiver_t *)p;
  nt_msg_reader_free(&mr->reader);
  if (mr->ops->destroy) mr->ops->destroy(mr);
}

static const nt_protocol_ops_t msg_receiver_ops = {
    mr_connection_made, mr_data_received, NULL, mr_connection_lost,
    NULL,               NULL,             mr_destroy};

void nt_msg_receiver_init(nt_msg_receiver_t *mr,
                          const nt_msg_receiver_ops_t *ops, size_t max_size) {
  nt_protocol_init(&mr->base, &msg_receiver_ops);
  mr->ops = ops;
  nt_msg_reader_init(&mr->reader, max_size);
}
