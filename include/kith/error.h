/*
 * kith error codes.
 *
 * Every fallible function in libkith returns an int: KITH_OK (0) on success or one
 * of the negative codes below. The codes and their messages come from one X-macro
 * list so they cannot drift apart.
 */
#ifndef KITH_ERROR_H
#define KITH_ERROR_H

#define KITH_ERRORS(X)                                                                             \
    X(NOMEM, "out of memory")                                                                      \
    X(INVAL, "invalid argument")                                                                   \
    X(PARSE, "malformed input")                                                                    \
    X(RANGE, "value out of range")                                                                 \
    X(TOOBIG, "input too large")                                                                   \
    X(CRYPTO, "cryptographic check failed")                                                        \
    X(IO, "input/output error")                                                                    \
    X(DB, "database error")                                                                        \
    X(NOTFOUND, "not found")                                                                       \
    X(EXISTS, "already exists")                                                                    \
    X(AMBIGUOUS, "ambiguous reference")                                                            \
    X(PERM, "permission denied")                                                                   \
    X(CHECKSUM, "check characters do not match")                                                   \
    X(PROTO, "bad message")                                                                        \
    X(VERSION, "unsupported version")                                                              \
    X(AUTH, "not authorized")                                                                      \
    X(PASSPHRASE, "wrong passphrase")                                                              \
    X(CORRUPT, "stored data is corrupt")                                                           \
    X(NOSPACE, "the disk is full")                                                                 \
    X(TAMPER, "the database was changed outside kith")                                             \
    X(ROLLBACK, "the database is older than this node's last known state")                         \
    X(READONLY, "the home is read-only")                                                           \
    X(REPLAY, "replayed or stale message")                                                         \
    X(NOTSUP, "not supported")                                                                     \
    X(STALE, "changed since it was last read")                                                     \
    X(CANCELED, "canceled")

enum {
    KITH_OK = 0,
#define KITH_ERROR_ENUM(name, msg) KITH_E##name,
    KITH_ERROR_FIRST_ = -100,
    KITH_ERRORS(KITH_ERROR_ENUM) KITH_ERROR_LAST_
#undef KITH_ERROR_ENUM
};

/* Returns a static, human-readable message for an error code; never NULL. */
const char *kith_strerror(int err);

#endif
