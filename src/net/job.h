/*
 * A unit of store work for the daemon's one store thread: work runs on libuv's thread pool,
 * one job at a time across the whole daemon (so the store connection is never used by two
 * threads at once), then done runs on the loop thread. Modules that need the store from
 * the loop (CardDAV) take a submit function instead of the daemon itself, so that they do
 * not depend on it.
 */
#ifndef KITH_JOB_H
#define KITH_JOB_H

typedef struct kith_job kith_job_t;
struct kith_job {
    kith_job_t *next; /* the queue's; the submitter does not touch it */
    void (*work)(kith_job_t *);
    void (*done)(kith_job_t *);
    int queued; /* the queue's */
};

/* Queues job; its done callback runs once its work has run. */
typedef void (*kith_job_submit_fn)(void *host, kith_job_t *job);

#endif
