/*
 * Sharing records: the application layer's share and unshare, each one transaction. A
 * share spec names a peer (by key) or a group; the record's audience is recomputed from
 * its specs and the peer list (kith_node_update_audience()), so a record shared with a
 * group follows the group's members.
 */
#ifndef KITH_SHARE_H
#define KITH_SHARE_H

#include <stddef.h>
#include <stdint.h>

#include "node/node.h"

/* Shares record id, which this node owns, with targets in role (a spec already there
 * takes the new role). KITH_EAUTH if this node is not the owner. */
int kith_node_share(kith_node_t *n, const uint8_t id[static KITH_REC_ID_LEN],
                    const kith_share_target_t *targets, size_t n_targets, int role,
                    uint64_t now_ms);

/* What unsharing one target found. */
typedef struct {
    int removed;   /* the record was shared with the target by name (or as this group) */
    char via[256]; /* groups through which the record still reaches the peer ("@a, @b"),
                      "" if none; for a group target, always "" */
} kith_unshare_result_t;

/* Stops sharing record id, which this node owns, with targets; results (n_targets of
 * them) say for each what was found. If any target was not shared by name, nothing
 * changes and KITH_ENOTFOUND is returned (results tell which, and whether a group still
 * reaches it). KITH_EAUTH if this node is not the owner. */
int kith_node_unshare(kith_node_t *n, const uint8_t id[static KITH_REC_ID_LEN],
                      const kith_share_target_t *targets, size_t n_targets, uint64_t now_ms,
                      kith_unshare_result_t *results);

#endif
