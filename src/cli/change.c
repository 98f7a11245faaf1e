/*
 * Field changes from the command line; see change.h.
 */
#include "cli/change.h"

#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "kith/error.h"

void
cli_change_init(cli_change_t *ch)
{
    ch->items = NULL;
    ch->n = 0;
}

void
cli_change_close(cli_change_t *ch)
{
    for (size_t i = 0; i < ch->n; i++) {
        free(ch->items[i].texts);
    }
    free(ch->items);
    cli_change_init(ch);
}

static const char *
mode_flag(int mode)
{
    static const char *const flags[] = {"--set", "--add", "--unset", "--private"};
    return flags[mode];
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
    if (mode == CLI_CHANGE_ADD && !is_list) {
        cli_error("--add works on list fields; '%s' holds one value (use --set)", field);
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
        int compatible = it->mode == mode && is_list && mode != CLI_CHANGE_UNSET;
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
    if (mode == CLI_CHANGE_UNSET) {
        if (eq != NULL) {
            cli_error("--unset takes a field name only, not '%s'", arg);
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

/* Turns one typed item into a stored item, resolving REFs to record ids. */
static int
item_value(kith_node_t *n, const char *field, const char *text, kith_value_t *v)
{
    const kith_field_def_t *def = kith_schema_field(field);
    char err[256], hex[33], buf[512];
    uint8_t id[KITH_REC_ID_LEN];
    if (def != NULL && def->type == KITH_FT_REF) {
        if (cli_resolve(n, text, id) != 0) {
            return CLI_CHANGE_REPORTED;
        }
        cli_id_hex(id, hex);
        text = hex;
    } else if (def != NULL && def->type == KITH_FT_RELATIONS) {
        const char *colon = strchr(text, ':');
        if (colon == NULL || colon == text || (size_t) (colon - text) > 64) {
            cli_error("relations: '%s' is not TYPE:REF (as in manager:Ada)", text);
            return CLI_CHANGE_REPORTED;
        }
        if (cli_resolve(n, colon + 1, id) != 0) {
            return CLI_CHANGE_REPORTED;
        }
        cli_id_hex(id, hex);
        snprintf(buf, sizeof(buf), "%.*s:%s", (int) (colon - text), text, hex);
        text = buf;
    }
    int rc = kith_schema_parse_item(field, text, v, err, sizeof(err));
    if (rc != KITH_OK) {
        cli_error("%s", err);
        return CLI_CHANGE_REPORTED;
    }
    return KITH_OK;
}

int
cli_change_commit(cli_change_t *ch, kith_node_t *n, const uint8_t id[KITH_REC_ID_LEN],
                  const uint8_t owner[KITH_PK_LEN], int kind, const kith_record_t *cur,
                  uint64_t now_ms)
{
    kith_op_t pub, priv;
    kith_op_init(&pub);
    kith_op_init(&priv);
    kith_value_t v = {0}, item = {0};
    int rc = KITH_OK;
    for (size_t i = 0; i < ch->n && rc == KITH_OK; i++) {
        const cli_change_item_t *it = &ch->items[i];
        int is_list = kith_schema_is_list(it->name);
        kith_value_clear(&v);
        if (it->mode == CLI_CHANGE_ADD && cur != NULL) {
            const kith_rfield_t *f = kith_record_field(cur, it->name);
            if (f != NULL && f->value.type == KITH_V_LIST) {
                rc = kith_value_copy(&v, &f->value);
            }
        }
        for (size_t k = 0; k < it->n_texts && rc == KITH_OK; k++) {
            rc = item_value(n, it->name, it->texts[k], &item);
            if (rc != KITH_OK) {
                break;
            }
            if (is_list) {
                rc = kith_value_list_append(&v, item.str, strlen(item.str));
            } else {
                kith_value_clear(&v);
                v = item;
                memset(&item, 0, sizeof(item));
            }
            kith_value_clear(&item);
        }
        if (rc == KITH_OK) {
            rc = kith_op_set_field(it->mode == CLI_CHANGE_PRIVATE ? &priv : &pub, it->name, &v);
        }
    }
    kith_value_clear(&v);
    kith_value_clear(&item);
    if (rc == KITH_ETOOBIG) {
        cli_error("too many items (a list holds at most %d)", KITH_VALUE_MAX_ITEMS);
        rc = CLI_CHANGE_REPORTED;
    }
    kith_op_t *ops[2] = {&pub, &priv};
    for (int k = 0; k < 2 && rc == KITH_OK; k++) {
        kith_op_t *op = ops[k];
        if (op->n_set == 0 && !(k == 0 && kind >= 0)) {
            continue;
        }
        memcpy(op->rec, id, KITH_REC_ID_LEN);
        memcpy(op->owner, owner, KITH_PK_LEN);
        op->private = k == 1;
        if (k == 0 && kind >= 0) {
            op->kind = kind;
        }
        rc = kith_node_apply_local(n, op, now_ms, NULL);
        if (rc == KITH_ETOOBIG) {
            cli_error("the change is too large for one op (at most %d bytes)", KITH_OP_MAX_LEN);
            rc = CLI_CHANGE_REPORTED;
        }
    }
    kith_op_close(&pub);
    kith_op_close(&priv);
    return rc;
}
