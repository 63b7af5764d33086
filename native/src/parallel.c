/* fork-join over index ranges (row-parallel kernels); the thread count follows setThreads */
#include "sparsecode.h"
#include <pthread.h>

int g_threads = 1;

typedef struct {
  RangeFn fn;
  void *ctx;
  size_t lo, hi;
} Job;

static void *job_main(void *p) {
  Job *j = (Job *)p;
  j->fn(j->ctx, j->lo, j->hi);
  return NULL;
}

void parallel_for(size_t n, size_t work, RangeFn fn, void *ctx) {
  size_t T = (size_t)(g_threads > 0 ? g_threads : 1);
  size_t byWork = work / PAR_MIN_WORK;
  if (T > byWork) T = byWork;
  if (T > n) T = n;
  if (T > PAR_MAX_THREADS) T = PAR_MAX_THREADS;
  if (T <= 1) {
    if (n) fn(ctx, 0, n);
    return;
  }
  pthread_t th[PAR_MAX_THREADS];
  Job jobs[PAR_MAX_THREADS];
  int started[PAR_MAX_THREADS];
  for (size_t t = 0; t < T; t++) {
    jobs[t].fn = fn;
    jobs[t].ctx = ctx;
    jobs[t].lo = n * t / T;
    jobs[t].hi = n * (t + 1) / T;
  }
  for (size_t t = 1; t < T; t++) {
    started[t] = pthread_create(&th[t], NULL, job_main, &jobs[t]) == 0;
    if (!started[t]) job_main(&jobs[t]); /* no thread available: do it here */
  }
  job_main(&jobs[0]);
  for (size_t t = 1; t < T; t++) if (started[t]) pthread_join(th[t], NULL);
}
