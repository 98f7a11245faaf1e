/*
 * libkith: library-wide setup.
 */
#ifndef KITH_KITH_H
#define KITH_KITH_H

/* Initialises libsodium and libxml2. Call once before any other libkith function; safe to call
 * again. Returns KITH_OK or KITH_ECRYPTO if libsodium cannot start. */
int kith_init(void);

#endif
