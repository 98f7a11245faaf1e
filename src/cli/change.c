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

/* The layer a change goes to: --private and --publish name theirs; any other change goes
 * private when the field already has a private value here (privacy is sticky). */
static int
goes_private(const cli_change_item_t *it, const kith_record_t *cur)
{
    if (it->mode == CLI_CHANGE_PRIVATE) {
        return 1;
    }
    if (it->mode == CLI_CHANGE_PUBLISH) {
        return 0;
    }
    return cur != NULL && kith_record_field_in(cur, it->name, 1) != NULL;
}

int
cli_change_is_shared(const cli_change_t *ch, const kith_record_t *cur)
{
    for (size_t i = 0; i < ch->n; i++) {
        if (!goes_private(&ch->items[i], cur)) {
            return 1;
        }
    }
    return cur == NULL;
}

/* Removes every instance of item that this node sees in field of one layer. */
static int
remove_item(kith_op_t *op, const kith_record_t *cur, const char *field, int private,
            const char *item)
{
    const kith_rfield_t *f = cur ? kith_record_field_in(cur, field, private) : NULL;
    for (size_t i = 0; f != NULL && f->elems != NULL && i < f->value.n_items; i++) {
        if (strcmp(f->value.items[i], item) != 0) {
            continue;
        }
        for (size_t k = 0; k < f->elems[i].n_ids; k++) {
            int rc = kith_op_rm_elem(op, field, f->elems[i].ids[k]);
            if (rc != KITH_OK) {
                return rc;
            }
        }
        return KITH_OK;
    }
    cli_error("%s: '%s' is not in the %s list", field, item, private ? "private" : "shared");
    return CLI_CHANGE_REPORTED;
}

/* --publish FIELD: the private value goes, the same value is set in the shared record
 * (a list's items are added to the shared list). --publish FIELD=ITEM moves one item of a
 * private list. */
static int
publish(kith_node_t *n, kith_op_t *pub, kith_op_t *priv, const kith_record_t *cur,
        const cli_change_item_t *it)
{
    const char *field = it->name;
    const kith_rfield_t *f = cur ? kith_record_field_in(cur, field, 1) : NULL;
    if (f == NULL) {
        cli_error("--publish %s: '%s' has no private value on this node", field, field);
        return CLI_CHANGE_REPORTED;
    }
    kith_value_t nil = {0}, item = {0};
    for (size_t k = 0; k < it->n_texts; k++) {
        int rc = item_value(n, field, it->texts[k], &item);
        if (rc == KITH_OK) {
            rc = remove_item(priv, cur, field, 1, item.str);
        }
        if (rc == KITH_OK) {
            rc = kith_op_add_item(pub, field, item.str);
        }
        kith_value_clear(&item);
        if (rc != KITH_OK) {
            return rc;
        }
    }
    if (it->n_texts > 0) {
        return KITH_OK;
    }
    int rc = kith_op_set_field(priv, field, &nil);
    if (rc == KITH_OK && f->value.type == KITH_V_LIST) {
        for (size_t i = 0; i < f->value.n_items && rc == KITH_OK; i++) {
            rc = kith_op_add_item(pub, field, f->value.items[i]);
        }
    } else if (rc == KITH_OK) {
        rc = kith_op_set_field(pub, field, &f->value);
    }
    return rc;
}

/* Adds one change item to the op of its layer. */
static int
add_change(kith_node_t *n, const cli_change_item_t *it, kith_op_t *op, const kith_record_t *cur,
           int private)
{
    int is_list = kith_schema_is_list(it->name);
    kith_value_t v = {0}, item = {0};
    int rc = KITH_OK;
    for (size_t k = 0; k < it->n_texts && rc == KITH_OK; k++) {
        rc = item_value(n, it->name, it->texts[k], &item);
        if (rc != KITH_OK) {
            break;
        }
        if (it->mode == CLI_CHANGE_ADD) {
            rc = kith_op_add_item(op, it->name, item.str);
        } else if (it->mode == CLI_CHANGE_REMOVE) {
            rc = remove_item(op, cur, it->name, private, item.str);
        } else if (is_list) {
            rc = kith_value_list_append(&v, item.str, strlen(item.str));
        } else {
            kith_value_clear(&v);
            v = item;
            memset(&item, 0, sizeof(item));
        }
        kith_value_clear(&item);
    }
    /* --set and --private replace the value (a whole list); --unset removes it. */
    if (rc == KITH_OK && (it->mode == CLI_CHANGE_SET || it->mode == CLI_CHANGE_PRIVATE ||
                          it->mode == CLI_CHANGE_UNSET)) {
        rc = kith_op_set_field(op, it->name, &v);
    }
    kith_value_clear(&v);
    kith_value_clear(&item);
    return rc;
}

int
cli_change_commit(cli_change_t *ch, kith_node_t *n, const uint8_t id[KITH_REC_ID_LEN],
                  const uint8_t owner[KITH_PK_LEN], int kind, const kith_record_t *cur,
                  uint64_t now_ms, cli_change_result_t *result)
{
    kith_op_t pub, priv;
    kith_op_init(&pub);
    kith_op_init(&priv);
    cli_change_result_t res;
    memset(&res, 0, sizeof(res));
    int rc = KITH_OK;
    for (size_t i = 0; i < ch->n && rc == KITH_OK; i++) {
        const cli_change_item_t *it = &ch->items[i];
        int private = goes_private(it, cur);
        if (private && it->mode != CLI_CHANGE_PRIVATE && res.kept_private++ == 0) {
            snprintf(res.first_kept, sizeof(res.first_kept), "%s", it->name);
        }
        if (it->mode == CLI_CHANGE_PUBLISH) {
            rc = publish(n, &pub, &priv, cur, it);
        } else {
            rc = add_change(n, it, private ? &priv : &pub, cur, private);
        }
    }
    if (rc == KITH_ETOOBIG) {
        cli_error("too many items (a list holds at most %d)", KITH_VALUE_MAX_ITEMS);
        rc = CLI_CHANGE_REPORTED;
    } else if (rc == KITH_EEXISTS) {
        cli_error("a field is changed twice in one command; give each field once");
        rc = CLI_CHANGE_REPORTED;
    }
    res.shared = pub.n_set + pub.n_add + pub.n_rm;
    res.private = priv.n_set + priv.n_add + priv.n_rm;
    /* Refuse what the owner's node would refuse: a shared edit it ignores forever is worse
     * than none. A private note is always this node's to keep. */
    int role = cur != NULL ? kith_record_role(cur, n->id->pk) : KITH_ROLE_EDITOR;
    if (rc == KITH_OK && res.shared > 0 && role != KITH_ROLE_EDITOR) {
        char label[80], when[20];
        uint64_t since = 0;
        cli_key_label(n, cur->owner, label);
        if (cli_unshared_since(n, cur, &since)) {
            kith_hlc_format(since, when);
            cli_error("'%s' is no longer shared with you (since %s UTC); your edits would have "
                      "no effect. You can still keep private notes on it (--private "
                      "FIELD=VALUE)",
                      kith_record_name(cur), when);
        } else {
            cli_error("'%s' is %s by %s; you cannot edit its shared fields, but you can keep "
                      "private notes on it (--private FIELD=VALUE)",
                      kith_record_name(cur),
                      role == KITH_ROLE_READER ? "shared with you read-only"
                                               : "not shared with you",
                      label);
        }
        rc = CLI_CHANGE_REPORTED;
    }
    kith_op_t *ops[2] = {&pub, &priv};
    for (int k = 0; k < 2 && rc == KITH_OK; k++) {
        kith_op_t *op = ops[k];
        if (op->n_set + op->n_add + op->n_rm == 0 && !(k == 0 && kind >= 0)) {
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
    if (result != NULL) {
        *result = res;
    }
    return rc;
}
