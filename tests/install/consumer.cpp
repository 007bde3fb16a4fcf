// The C++17 consumer: the installed headers and library through
// find_package(nettool) (tests/install/consumer/CMakeLists.txt). Same job
// as consumer.c: one request to a timestamp server on 127.0.0.1.
// usage: consumer_cxx PORT WORD
#include <nettool/errno.h>
#include <nettool/reactor.h>
#include <nettool/timestamp.h>
#include <nettool/version.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {
struct Run {
  std::string word;
  std::string reply;
  int status = -1;
};

void on_connected(nt_ts_client_t *c, void *arg) {
  auto *run = static_cast<Run *>(arg);
  if (nt_ts_client_send(c, run->word.data(), run->word.size()) < 0) nt_ts_client_close(c);
}

void on_reply(nt_ts_client_t *c, const char *data, std::size_t len, void *arg) {
  static_cast<Run *>(arg)->reply.assign(data, len);
  nt_ts_client_close(c);
}

void on_closed(nt_ts_client_t *, int status, void *arg) {
  static_cast<Run *>(arg)->status = status;
}
}  // namespace

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  static_assert(NT_VERSION_HEX >= 0, "version.h is usable in constant expressions");
  std::printf("version: %s (headers %s)\n", nt_version(), NT_VERSION_STRING);
  Run run;
  run.word = argv[2];
  nt_reactor_t *r = nullptr;
  if (nt_reactor_new(&r, nullptr) < 0) return 1;
  nt_ts_client_options_t opts{};
  opts.connect_timeout_ms = 5000;
  opts.reply_timeout_ms = 5000;
  nt_ts_client_callbacks_t cbs{};
  cbs.connected = on_connected;
  cbs.reply = on_reply;
  cbs.closed = on_closed;
  nt_ts_client_t *c = nullptr;
  int rc = nt_ts_client_connect(r, "127.0.0.1", std::atoi(argv[1]), &opts, &cbs, &run, &c);
  if (rc < 0) {
    std::fprintf(stderr, "consumer_cxx: connect: %s\n", nt_strerror(rc));
    return 1;
  }
  nt_reactor_run(r);
  nt_reactor_free(r);
  std::printf("reply: %s\n", run.reply.c_str());
  bool ok = run.status == 0 && run.reply.size() > run.word.size() && run.reply[0] == '[' &&
            run.reply.compare(run.reply.size() - run.word.size(), run.word.size(), run.word) == 0;
  return ok ? 0 : 1;
}
