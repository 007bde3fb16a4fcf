/* Internals of the journal (protocols/journal/journal.c) for its tests. */
#ifndef NT_JOURNAL_INT_H
#define NT_JOURNAL_INT_H

#include <nettool/journal.h>

/* The steps of nt_journal_save, in order. A kill between two of them (or in
 * the middle of the write) must leave the old or the new state. */
enum {
  NT__JOURNAL_STEP_OPEN = 1,  /* open PATH.tmp (O_TRUNC) */
  NT__JOURNAL_STEP_WRITE,     /* write the contents (a kill here: half written) */
  NT__JOURNAL_STEP_FSYNC,     /* fsync PATH.tmp */
  NT__JOURNAL_STEP_CLOSE,     /* close it */
  NT__JOURNAL_STEP_RENAME,    /* rename PATH.tmp -> PATH */
  NT__JOURNAL_STEP_DIRSYNC,   /* fsync the directory */
  NT__JOURNAL_STEPS = NT__JOURNAL_STEP_DIRSYNC
};

/* Fault injection for tests: when non-zero, the next nt_journal_save stops
 * dead at that step, as a process killed there would (the step itself is not
 * done, except WRITE, which writes half the bytes first), and returns
 * NT__JOURNAL_KILLED; the hook then resets to 0. Not thread-safe: tests
 * only. */
extern int nt__journal_kill_at;
#define NT__JOURNAL_KILLED (-9999)

#endif
