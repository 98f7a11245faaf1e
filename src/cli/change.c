/*
 * Field changes from the command line; see change.h.
 */
#include "cli/change.h"

#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "kith/error.h"
#include "util/hlc.h"

void
cli_change_init(cli_change_t *ch)
{
    memset(ch, 0, sizeof(*ch));
}

void
cli_change_close(cli_change_t *ch)
{
    for (size_t i = 0; i < ch->n; i++) {
        for (size_t k = 0; ch->items[i].resolved != NULL && k < ch->items[i].n_texts; k++) {
            free(ch->items[i].resolved[k]);
        }
        free(ch->items[i].resolved);
        free(ch->items[i].texts);
    }
    free(ch->items);
    free(ch->edits);
    cli_change_init(ch);
}

static const char *
mode_flag(int mode)
{
    static const char *const flags[] = {"--set",     "--add",    "--unset",
                                        "--private", "--remove", "--publish"};
    return flags[mode];
}

/* Modes that take a field name alone (--publish also takes FIELD=ITEM for one item of a
 * list). */
static int
name_only(int mode)
{
    return mode == CLI_CHANGE_UNSET || mode == CLI_CHANGE_PUBLISH;
}

static int
needs_resolving(const char *field)
{
    const kith_field_def_t *def = kith_schema_field(field);
    return def != NULL && (def->type == KITH_FT_REF || def->type == KITH_FT_RELATIONS);
}

int
cli_change_arg_kv(cli_change_t *ch, int mode, const char *field, const char *value)
{
    char err[256];
    if (strlen(field) > KITH_FIELD_NAME_MAX || kith_schema_check_name(field) != KITH_OK) {
        cli_error("unknown field '%s' (see 'kith help fields'; custom fields start with x-)",
                  field);
        return -1;
    }
    int is_list = kith_schema_is_list(field);
    if ((mode == CLI_CHANGE_ADD || mode == CLI_CHANGE_REMOVE) && !is_list) {
        cli_error("%s works on list fields; '%s' holds one value (use %s)", mode_flag(mode), field,
                  mode == CLI_CHANGE_ADD ? "--set" : "--unset");
        return -1;
    }
    if (value != NULL && !needs_resolving(field)) {
        /* Check the value now so that nothing is written when any argument is wrong. */
        kith_value_t v = {0};
        int rc = kith_schema_parse_item(field, value, &v, err, sizeof(err));
        kith_value_clear(&v);
        if (rc != KITH_OK) {
            cli_error("%s", err);
            return -1;
        }
    }
    cli_change_item_t *it = NULL;
    for (size_t i = 0; i < ch->n; i++) {
        if (strcmp(ch->items[i].name, field) == 0) {
            it = &ch->items[i];
        }
    }
    if (it != NULL) {
        int compatible =
            it->mode == mode && is_list && (!name_only(mode) || (value != NULL && it->n_texts > 0));
        if (!compatible) {
            cli_error("'%s' is given twice (%s and %s)", field, mode_flag(it->mode),
                      mode_flag(mode));
            return -1;
        }
    } else {
        cli_change_item_t *p = realloc(ch->items, (ch->n + 1) * sizeof(*p));
        if (p == NULL) {
            cli_error("out of memory");
            return -1;
        }
        ch->items = p;
        it = &ch->items[ch->n++];
        memset(it, 0, sizeof(*it));
        snprintf(it->name, sizeof(it->name), "%s", field);
        it->mode = mode;
    }
    if (value != NULL) {
        char **t = realloc(it->texts, (it->n_texts + 1) * sizeof(*t));
        if (t == NULL) {
            cli_error("out of memory");
            return -1;
        }
        it->texts = t;
        it->texts[it->n_texts++] = (char *) value; /* argv outlives the change */
    }
    return 0;
}

int
cli_change_arg(cli_change_t *ch, int mode, const char *arg)
{
    char field[KITH_FIELD_NAME_MAX + 2];
    const char *eq = strchr(arg, '=');
    if (mode == CLI_CHANGE_PUBLISH && eq != NULL && eq != arg) {
        size_t len = (size_t) (eq - arg);
        if (len > KITH_FIELD_NAME_MAX) {
            cli_error("unknown field '%.*s'", (int) len, arg);
            return -1;
        }
        memcpy(field, arg, len);
        field[len] = '\0';
        if (!kith_schema_is_list(field)) {
            cli_error("--publish %s publishes the whole value; FIELD=ITEM is for one item of a "
                      "list",
                      field);
            return -1;
        }
        return cli_change_arg_kv(ch, mode, field, eq + 1);
    }
    if (name_only(mode)) {
        if (eq != NULL) {
            cli_error("%s takes a field name only, not '%s'", mode_flag(mode), arg);
            return -1;
        }
        return cli_change_arg_kv(ch, mode, arg, NULL);
    }
    if (eq == NULL || eq == arg) {
        cli_error("%s needs FIELD=VALUE, not '%s'", mode_flag(mode), arg);
        return -1;
    }
    size_t len = (size_t) (eq - arg);
    if (len > KITH_FIELD_NAME_MAX) {
        cli_error("unknown field '%.*s'", (int) len, arg);
        return -1;
    }
    memcpy(field, arg, len);
    field[len] = '\0';
    return cli_change_arg_kv(ch, mode, field, eq + 1);
}

/* The item as typed, with a record reference (REF, or the REF of TYPE:REF) resolved to the
 * record's id; malloc'd into *out. */
static int
resolve_item(kith_node_t *n, const char *field, const char *text, char **out)
{
    const kith_field_def_t *def = kith_schema_field(field);
    char hex[33], buf[512];
    uint8_t id[KITH_REC_ID_LEN];
    if (def != NULL && def->type == KITH_FT_REF) {
        if (cli_resolve(n, text, id) != 0) {
            return -1;
        }
        cli_id_hex(id, hex);
        text = hex;
    } else if (def != NULL && def->type == KITH_FT_RELATIONS) {
        const char *colon = strchr(text, ':');
        if (colon == NULL || colon == text || (size_t) (colon - text) > 64) {
            cli_error("relations: '%s' is not TYPE:REF (as in manager:Ada)", text);
            return -1;
        }
        if (cli_resolve(n, colon + 1, id) != 0) {
            return -1;
        }
        cli_id_hex(id, hex);
        snprintf(buf, sizeof(buf), "%.*s:%s", (int) (colon - text), text, hex);
        text = buf;
    }
    *out = strdup(text);
    if (*out == NULL) {
        cli_error("out of memory");
        return -1;
    }
    return 0;
}

int
cli_change_edits(cli_change_t *ch, kith_node_t *n, const kith_edit_t **edits, size_t *n_edits)
{
    free(ch->edits);
    ch->edits = calloc(ch->n ? ch->n : 1, sizeof(*ch->edits));
    if (ch->edits == NULL) {
        cli_error("out of memory");
        return -1;
    }
    for (size_t i = 0; i < ch->n; i++) {
        cli_change_item_t *it = &ch->items[i];
        if (it->resolved == NULL && it->n_texts > 0) {
            it->resolved = calloc(it->n_texts, sizeof(*it->resolved));
            if (it->resolved == NULL) {
                cli_error("out of memory");
                return -1;
            }
            for (size_t k = 0; k < it->n_texts; k++) {
                if (resolve_item(n, it->name, it->texts[k], &it->resolved[k]) != 0) {
                    return -1;
                }
            }
        }
        ch->edits[i] = (kith_edit_t){it->name, (kith_edit_mode_t) it->mode,
                                     (const char *const *) it->resolved, it->n_texts};
    }
    *edits = ch->edits;
    *n_edits = ch->n;
    return 0;
}
