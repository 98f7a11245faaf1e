/*
 * A text as a QR code in SVG (qrsvg.h). libqrencode encodes; we draw each row's runs of
 * dark modules as rectangles of one path, which keeps a node ID's symbol near 2 KB.
 */
#include "formats/qrsvg.h"

#include <qrencode.h>
#include <string.h>

#include "kith/error.h"

/* Appends s with the five characters XML gives meaning escaped. */
static int
put_escaped(kith_buf_t *out, const char *s)
{
    int rc = KITH_OK;
    for (; *s != '\0' && rc == KITH_OK; s++) {
        switch (*s) {
        case '&':
            rc = kith_buf_puts(out, "&amp;");
            break;
        case '<':
            rc = kith_buf_puts(out, "&lt;");
            break;
        case '>':
            rc = kith_buf_puts(out, "&gt;");
            break;
        case '"':
            rc = kith_buf_puts(out, "&quot;");
            break;
        case '\'':
            rc = kith_buf_puts(out, "&apos;");
            break;
        default:
            rc = kith_buf_putc(out, *s);
        }
    }
    return rc;
}

/* Appends the path data of the dark modules: per row, one "M x y hNv1h-Nz" per run. */
static int
put_modules(kith_buf_t *out, const QRcode *qr)
{
    int rc = KITH_OK;
    const int w = qr->width;
    for (int y = 0; y < w && rc == KITH_OK; y++) {
        const unsigned char *row = qr->data + (size_t) y * (size_t) w;
        for (int x = 0; x < w && rc == KITH_OK;) {
            if (!(row[x] & 1)) {
                x++;
                continue;
            }
            int run = 1;
            while (x + run < w && (row[x + run] & 1)) {
                run++;
            }
            rc = kith_buf_printf(out, "M%d %dh%dv1h-%dz", x + KITH_QR_QUIET, y + KITH_QR_QUIET, run,
                                 run);
            x += run;
        }
    }
    return rc;
}

int
kith_qr_svg(const char *text, kith_buf_t *out)
{
    size_t len = strlen(text);
    if (len == 0 || len > KITH_QR_TEXT_MAX) {
        return KITH_EINVAL;
    }
    /* 256 bytes always fit a symbol at level M (version 40 holds 2331), so NULL here is
     * out of memory. */
    QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (qr == NULL) {
        return KITH_ENOMEM;
    }
    const size_t start = out->len;
    const int side = qr->width + 2 * KITH_QR_QUIET;
    int rc = kith_buf_printf(out,
                             "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
                             "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                             "shape-rendering=\"crispEdges\"><title>",
                             KITH_QR_SIZE_PX, KITH_QR_SIZE_PX, side, side);
    if (rc == KITH_OK) {
        rc = put_escaped(out, text);
    }
    if (rc == KITH_OK) {
        rc = kith_buf_printf(out,
                             "</title><rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>"
                             "<path fill=\"#000\" d=\"",
                             side, side);
    }
    if (rc == KITH_OK) {
        rc = put_modules(out, qr);
    }
    if (rc == KITH_OK) {
        rc = kith_buf_puts(out, "\"/></svg>\n");
    }
    QRcode_free(qr);
    if (rc != KITH_OK && out->data != NULL) {
        out->len = start;
        out->data[start] = '\0';
    }
    return rc;
}
