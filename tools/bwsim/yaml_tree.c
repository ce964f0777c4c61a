// SPDX-License-Identifier: MIT
/* libyaml's event stream turned into a ynode tree (see yaml_tree.h). */
#include "yaml_tree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

static struct ynode *ynode_new(enum ynode_kind kind, int line)
{
	struct ynode *n = calloc(1, sizeof(*n));

	if (n) {
		n->kind = kind;
		n->line = line;
	}
	return n;
}

static int ynode_push(struct ynode *parent, struct ynode *kid)
{
	struct ynode **k = realloc(parent->kids, (parent->n + 1) * sizeof(*k));

	if (!k)
		return -1;
	parent->kids = k;
	parent->kids[parent->n++] = kid;
	return 0;
}

void ytree_free(struct ynode *n)
{
	size_t i;

	if (!n)
		return;
	for (i = 0; i < n->n; i++)
		ytree_free(n->kids[i]);
	free(n->kids);
	free(n->str);
	free(n);
}

/*
 * Builds the node whose first event is ev (already parsed). Returns NULL
 * with err set on a parse error, an alias or out of memory.
 */
static struct ynode *ytree_node(yaml_parser_t *p, yaml_event_t *ev,
				const char *path, char *err, size_t errlen)
{
	int line = (int)ev->start_mark.line + 1;
	struct ynode *n = NULL;
	yaml_event_type_t end;
	yaml_event_t kid;

	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		n = ynode_new(YN_SCALAR, line);
		if (n)
			n->str = strdup((const char *)ev->data.scalar.value);
		if (!n || !n->str)
			goto oom;
		return n;
	case YAML_MAPPING_START_EVENT:
		n = ynode_new(YN_MAP, line);
		end = YAML_MAPPING_END_EVENT;
		break;
	case YAML_SEQUENCE_START_EVENT:
		n = ynode_new(YN_SEQ, line);
		end = YAML_SEQUENCE_END_EVENT;
		break;
	case YAML_ALIAS_EVENT:
		snprintf(err, errlen, "%s:%d: aliases are not supported", path, line);
		return NULL;
	default:
		snprintf(err, errlen, "%s:%d: unexpected YAML event", path, line);
		return NULL;
	}
	if (!n)
		goto oom;
	for (;;) {
		struct ynode *k;

		if (!yaml_parser_parse(p, &kid)) {
			snprintf(err, errlen, "%s:%zu: YAML syntax error: %s", path,
				 p->problem_mark.line + 1,
				 p->problem ? p->problem : "unknown");
			ytree_free(n);
			return NULL;
		}
		if (kid.type == end) {
			yaml_event_delete(&kid);
			return n;
		}
		if (n->kind == YN_MAP && n->n % 2 == 0 &&
		    kid.type != YAML_SCALAR_EVENT) {
			snprintf(err, errlen, "%s:%d: mapping keys must be plain scalars",
				 path, (int)kid.start_mark.line + 1);
			yaml_event_delete(&kid);
			ytree_free(n);
			return NULL;
		}
		k = ytree_node(p, &kid, path, err, errlen);
		yaml_event_delete(&kid);
		if (!k) {
			ytree_free(n);
			return NULL;
		}
		if (ynode_push(n, k)) {
			ytree_free(k);
			goto oom;
		}
	}
oom:
	ytree_free(n);
	snprintf(err, errlen, "%s:%d: out of memory", path, line);
	return NULL;
}

struct ynode *ytree_load(const char *path, char *err, size_t errlen)
{
	yaml_parser_t p;
	yaml_event_t ev;
	struct ynode *root = NULL;
	FILE *f = fopen(path, "r");

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (!yaml_parser_initialize(&p)) {
		fclose(f);
		snprintf(err, errlen, "%s: cannot initialise libyaml", path);
		return NULL;
	}
	yaml_parser_set_input_file(&p, f);
	/* Skip to the document's root node. */
	for (;;) {
		if (!yaml_parser_parse(&p, &ev)) {
			snprintf(err, errlen, "%s:%zu: YAML syntax error: %s", path,
				 p.problem_mark.line + 1,
				 p.problem ? p.problem : "unknown");
			goto out;
		}
		if (ev.type == YAML_STREAM_END_EVENT) {
			snprintf(err, errlen, "%s:1: empty document", path);
			yaml_event_delete(&ev);
			goto out;
		}
		if (ev.type != YAML_STREAM_START_EVENT &&
		    ev.type != YAML_DOCUMENT_START_EVENT)
			break;
		yaml_event_delete(&ev);
	}
	root = ytree_node(&p, &ev, path, err, errlen);
	yaml_event_delete(&ev);
out:
	yaml_parser_delete(&p);
	fclose(f);
	return root;
}
