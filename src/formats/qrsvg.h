/*
 * A short text as a QR code in SVG, for the web page to show this node's ID so that a
 * phone can read it (proto/WEB.md). libqrencode makes the symbol; this module only draws
 * it. The text is our own (a node ID, a pairing code), not hostile input, but it is
 * bounded all the same.
 *
 * The SVG is self-contained: no script, no external reference, no style sheet. Its
 * viewBox counts modules, with a 4-module quiet zone on each side; a white rectangle
 * fills it and one black <path> draws the dark modules, each horizontal run of them as
 * one rectangle, with shape-rendering="crispEdges". A <title> holds the text, escaped.
 */
#ifndef KITH_QRSVG_H
#define KITH_QRSVG_H

#include "util/buf.h"

#define KITH_QR_TEXT_MAX 256 /* bytes of text, at most */
#define KITH_QR_QUIET    4   /* modules of white around the symbol */
#define KITH_QR_SIZE_PX  240 /* the width and height attributes */

/* Appends text (NUL-terminated, 1 to KITH_QR_TEXT_MAX bytes) as a QR code in SVG to out:
 * 8-bit mode, error correction level M, the smallest version that fits. KITH_OK;
 * KITH_EINVAL for an empty or longer text; KITH_ENOMEM. On error out is as it was. */
int kith_qr_svg(const char *text, kith_buf_t *out);

#endif
