/* Placeholder so the tree builds until the reconcile module lands (helper-6 owns this
 * file and replaces it). */
#ifndef KITH_RECONCILE_H
#define KITH_RECONCILE_H
#include <stddef.h>
#include <stdint.h>
typedef struct {
    uint64_t ts;
    uint8_t id[32];
} kith_item_t;
#endif
