"""NNTP benchmark client (Python side): the same work as nntp_bench.c with
Python 3.11's nntplib (deprecated, gone in 3.13): the overview of articles
FIRST..LAST (parsed into dicts, as nntplib does), then the bodies of the
last NBODIES articles.
    python3 nntp_bench_nntplib.py HOST PORT GROUP NOVER NBODIES"""
import resource
import sys
import time
import warnings

warnings.simplefilter("ignore", DeprecationWarning)
import nntplib  # noqa: E402

host, port, group = sys.argv[1], int(sys.argv[2]), sys.argv[3]
nover, nbodies = int(sys.argv[4]), int(sys.argv[5])
s = nntplib.NNTP(host, port)
t0 = time.perf_counter()
_, count, first, last, _ = s.group(group)
_, overviews = s.over((first, min(first + nover - 1, last)))
t1 = time.perf_counter()
lines = nbytes = 0
for n in range(max(first, last - nbodies + 1), last + 1):
    _, info = s.body(str(n))
    lines += len(info.lines)
    nbytes += sum(len(l) for l in info.lines)
t2 = time.perf_counter()
s.quit()
print("overview_ms=%.1f bodies_ms=%.1f total_ms=%.1f over_lines=%d body_lines=%d "
      "body_bytes=%d maxrss_kib=%d" % ((t1 - t0) * 1e3, (t2 - t1) * 1e3, (t2 - t0) * 1e3,
                                       len(overviews), lines, nbytes,
                                       resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
