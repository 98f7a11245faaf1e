/*
 * The record schema: which fields a person or organisation has, what each holds,
 * and how text typed by a user (or read from an import) becomes a checked value.
 *
 * Custom fields are named "x-" followed by [a-z0-9_-], hold text (several lines allowed),
 * and are never interpreted. proto/SCHEMA.md documents every field; keep the two in step.
 */
#ifndef KITH_SCHEMA_H
#define KITH_SCHEMA_H

#include <stddef.h>

#include "model/value.h"

#define KITH_KIND_PERSON 0
#define KITH_KIND_ORG    1

#define KITH_FIELD_NAME_MAX 64

typedef enum {
    KITH_FT_TEXT,      /* free text */
    KITH_FT_LIST,      /* list of free text items */
    KITH_FT_EMAILS,    /* list of e-mail addresses */
    KITH_FT_PHONES,    /* list of phone numbers */
    KITH_FT_URLS,      /* list of URLs */
    KITH_FT_INT,       /* integer within [min, max] */
    KITH_FT_DATE,      /* YYYY-MM-DD */
    KITH_FT_REF,       /* another record's id, 32 lowercase hex digits */
    KITH_FT_RELATIONS, /* list of "TYPE:RECORD-ID" */
    KITH_FT_CHOICE,    /* one of a fixed set of words */
    KITH_FT_LINES,     /* list of single lines; tabs allowed (vCard content lines) */
} kith_ftype_t;

typedef struct {
    const char *name;
    kith_ftype_t type;
    int min, max;               /* KITH_FT_INT */
    const char *const *choices; /* KITH_FT_CHOICE, NULL-terminated */
    int intel;                  /* 1: intelligence, left out of plain vCard export */
    int multiline;              /* 1: text may span lines */
    const char *help;
} kith_field_def_t;

/* The definition of a field, or NULL for custom "x-" fields and unknown names. */
const kith_field_def_t *kith_schema_field(const char *name);
/* All defined fields, in display order; *n receives the count. */
const kith_field_def_t *kith_schema_fields(size_t *n);
/* KITH_OK if name is a defined field or a well-formed custom field; KITH_EINVAL else. */
int kith_schema_check_name(const char *name);
/* 1 if the field holds a list. */
int kith_schema_is_list(const char *name);
/* Parses one user-supplied item for a field (for a list field: one item) into v, which
 * becomes a string or an integer. On error returns KITH_EINVAL or KITH_ERANGE and writes
 * a reason to errbuf (may be NULL). REF and RELATIONS targets must already be resolved
 * to record ids by the caller. */
int kith_schema_parse_item(const char *field, const char *text, kith_value_t *v, char *errbuf,
                           size_t errcap);
/* Checks a whole value (as received in an op) against the schema: right shape, every
 * item valid. Used on ops from other nodes, so it trusts nothing. */
int kith_schema_check_value(const char *field, const kith_value_t *v);
/* "person" / "org" <-> KITH_KIND_*; parse returns -1 for anything else. */
const char *kith_schema_kind_name(int kind);
int kith_schema_kind_parse(const char *s);

#endif
