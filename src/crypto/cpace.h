/*
 * CPace, the balanced password-authenticated key exchange, on ristretto255 with SHA-512
 * (CPACE-RISTR255-SHA512), exactly as draft-irtf-cfrg-cpace-21 specifies it for the
 * initiator-responder setting. Internal to libkith; src/sync/pairing builds on it.
 *
 * Both parties hold the same low-entropy password-related string PRS, agree on a channel
 * identifier CI and a session id sid, and each bring their own associated data AD:
 *
 *     kith_cpace_start(&c, prs, prs_len, ci, ci_len, sid, sid_len, ad, ad_len, share);
 *     ... send share (and ad, if the peer does not know it), receive the peer's ...
 *     kith_cpace_finish(c, initiator, peer_share, peer_ad, peer_ad_len, isk);
 *     kith_cpace_free(c);
 *
 * Both sides get the same 64-byte intermediate session key ISK if and only if they used
 * the same PRS, CI and sid (and saw each other's shares and ADs unmodified). ISK is
 * **not** yet authenticated: a caller must confirm it (for example with a MAC under a key
 * derived from it) before relying on it. A passive observer learns nothing about PRS; an
 * active attacker can test one PRS guess per run.
 *
 * The module is pure: no I/O, no clock. The only hidden input is the secret scalar, drawn
 * with crypto_core_ristretto255_scalar_random() (tests inject one). The state, which holds
 * the scalar and the password-derived generator, is sodium_malloc'd and wiped on free.
 * The caller must have run sodium_init() (kith_init()).
 */
#ifndef KITH_CPACE_H
#define KITH_CPACE_H

#include <stddef.h>
#include <stdint.h>

#define KITH_CPACE_SHARE_LEN  32   /* bytes: an encoded ristretto255 element (Ya, Yb, K) */
#define KITH_CPACE_SCALAR_LEN 32   /* bytes: a little-endian scalar below the group order */
#define KITH_CPACE_ISK_LEN    64   /* bytes: SHA-512 output, the intermediate session key */
#define KITH_CPACE_MAX_INPUT  1024 /* bytes: upper bound on each of PRS, CI, sid and AD */

/* Opaque state of one party in one run; sodium_malloc'd. */
typedef struct kith_cpace kith_cpace_t;

/*
 * Starts a run: derives the generator g from (PRS, CI, sid), draws a secret scalar y and
 * writes this party's public share Y = y*g to share_out.
 *
 * Each of prs, ci, sid and ad may be NULL only when its length is 0; each length must be
 * at most KITH_CPACE_MAX_INPUT. The inputs are copied as needed (ad is kept for the
 * transcript); PRS is never stored.
 *
 * On success *out owns a new state, released with kith_cpace_free(). Returns KITH_OK,
 * KITH_EINVAL (NULL argument or length too large), KITH_ENOMEM, or KITH_ECRYPTO (a
 * libsodium failure, which cannot happen for honest inputs). On failure *out is NULL.
 */
int kith_cpace_start(kith_cpace_t **out, const uint8_t *prs, size_t prs_len, const uint8_t *ci,
                     size_t ci_len, const uint8_t *sid, size_t sid_len, const uint8_t *ad,
                     size_t ad_len, uint8_t share_out[static KITH_CPACE_SHARE_LEN]);

/*
 * Finishes the run with the peer's share and AD and writes ISK.
 *
 * initiator: non-zero on the side whose share and AD come first in the transcript
 * (Ya, ADa), zero on the responder (Yb, ADb). Both sides must agree on who is who.
 * peer_ad may be NULL only when peer_ad_len is 0; peer_ad_len <= KITH_CPACE_MAX_INPUT.
 *
 * The peer share goes through scalar_mult_vfy: an invalid encoding or a shared point K
 * equal to the identity aborts the run with KITH_ECRYPTO. Finish can succeed only once;
 * after any failure, or after success, the scalar and generator are wiped and further
 * calls return KITH_EINVAL. On failure isk is zeroed.
 *
 * Returns KITH_OK, KITH_EINVAL (NULL argument, length too large, state already finished
 * or dead) or KITH_ECRYPTO (peer share refused).
 */
int kith_cpace_finish(kith_cpace_t *c, int initiator,
                      const uint8_t peer_share[static KITH_CPACE_SHARE_LEN], const uint8_t *peer_ad,
                      size_t peer_ad_len, uint8_t isk[static KITH_CPACE_ISK_LEN]);

/*
 * After a successful finish: the draft's optional session-id output,
 * SHA-512("CPaceSidOutput" || transcript_ir). It is public (not a secret) and equal on
 * both sides. Returns KITH_OK or KITH_EINVAL (NULL, or the run did not finish).
 */
int kith_cpace_sid_output(const kith_cpace_t *c, uint8_t out[static KITH_CPACE_ISK_LEN]);

/* Wipes and frees the state. NULL does nothing. */
void kith_cpace_free(kith_cpace_t *c);

/*
 * The draft's scalar_mult_vfy(y, X): decodes X and returns y*X in out. Returns KITH_OK, or
 * KITH_ECRYPTO if X is not a valid ristretto255 encoding or the result is the identity
 * (the draft's G.I, which means "abort"); out is then zeroed. y must be below the group
 * order (KITH_EINVAL otherwise, or for NULL).
 */
int kith_cpace_scalar_mult_vfy(const uint8_t y[static KITH_CPACE_SCALAR_LEN],
                               const uint8_t x[static KITH_CPACE_SHARE_LEN],
                               uint8_t out[static KITH_CPACE_SHARE_LEN]);

/*
 * Test only: replaces the random scalar of a started (not finished) run with y and writes
 * the matching share. y must be non-zero and below the group order. Returns KITH_OK,
 * KITH_EINVAL or KITH_ECRYPTO.
 */
int kith__cpace_set_scalar(kith_cpace_t *c, const uint8_t y[static KITH_CPACE_SCALAR_LEN],
                           uint8_t share_out[static KITH_CPACE_SHARE_LEN]);

/*
 * Test only: the draft's intermediate values for given inputs (same limits as
 * kith_cpace_start). kith__cpace_generator_string writes
 * lv_cat(DSI, PRS, zero_bytes(len_zpad), CI, sid) into out (cap bytes; *out_len gets its
 * length; KITH_ETOOBIG if it does not fit). kith__cpace_generator writes
 * SHA-512(generator_string) to hash (may be NULL) and the generator g to g. Both hash
 * the very same byte stream that kith_cpace_start() does.
 */
int kith__cpace_generator_string(const uint8_t *prs, size_t prs_len, const uint8_t *ci,
                                 size_t ci_len, const uint8_t *sid, size_t sid_len, uint8_t *out,
                                 size_t cap, size_t *out_len);
int kith__cpace_generator(const uint8_t *prs, size_t prs_len, const uint8_t *ci, size_t ci_len,
                          const uint8_t *sid, size_t sid_len, uint8_t *hash,
                          uint8_t g[static KITH_CPACE_SHARE_LEN]);

#endif
