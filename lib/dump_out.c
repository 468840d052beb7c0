/* SPDX-License-Identifier: MIT */
/*
 * Thread dumps, printed: the carriers' records as the tree of thread
 * groups, in text for people or in JSON (one line) for tools.
 *
 * Members are printed under their group, and groups under the thread
 * that owns them; threads in no group, and groups whose owner is not a
 * virtual thread shown (the root group, a plain thread's group, one whose
 * owner's carrier did not stop), at the top.  A thread seen in a run
 * queue, an inbox or a steal queue by any carrier is runnable.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dump.h"
#include "group.h"

void weft__out_printf(struct weft__out *o, const char *fmt, ...)
{
	va_list ap;
	int k;

	while (!o->oom) {
		size_t room = o->cap - o->n;

		va_start(ap, fmt);
		k = vsnprintf(o->s ? o->s + o->n : NULL, room, fmt, ap);
		va_end(ap);
		if (k < 0) {
			o->oom = true;
		} else if ((size_t)k < room) {
			o->n += k;
			return;
		} else {
			size_t cap = 2 * o->cap > o->n + k + 1 ?
					     2 * o->cap :
					     o->n + k + 4096;
			char *s = realloc(o->s, cap);

			if (s) {
				o->s = s;
				o->cap = cap;
			} else {
				o->oom = true;
			}
		}
	}
}

#define put weft__out_printf

/* A record with its frames. */
struct node {
	const struct weft__rec *r;
	const uintptr_t *pc;
};

struct tree {
	const struct weft__dump_in *in;
	struct weft__out *o;
	struct weft__syms *syms;
	bool json;
	struct node *nodes; /* by group, then id */
	size_t nr;
	const struct node **by_ctl;
	struct weft__grp *grps; /* by address, unique */
	size_t ngrps;
	const struct weft__grp **by_owner;
	bool *shown; /* for each of grps */
	uint64_t *queued;
	size_t nq;
	size_t oom; /* records lost */
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_uptr(uintptr_t x, uintptr_t y)
{
	return x < y ? -1 : x > y;
}

static int by_group(const void *a, const void *b)
{
	const struct node *x = a, *y = b;
	int c = cmp_uptr(x->r->group, y->r->group);

	return c ? c : cmp_u64(&x->r->id, &y->r->id);
}

static int by_ctl(const void *a, const void *b)
{
	const struct node *x = *(const struct node *const *)a;
	const struct node *y = *(const struct node *const *)b;

	return cmp_uptr(x->r->ctl, y->r->ctl);
}

static int by_addr(const void *a, const void *b)
{
	const struct weft__grp *x = a, *y = b;

	return cmp_uptr(x->addr, y->addr);
}

static int by_owner(const void *a, const void *b)
{
	const struct weft__grp *x = *(const struct weft__grp *const *)a;
	const struct weft__grp *y = *(const struct weft__grp *const *)b;
	int c = cmp_uptr(x->owner_ctl, y->owner_ctl);

	return c ? c : cmp_uptr(x->addr, y->addr);
}

static bool was_queued(const struct tree *t, uint64_t id)
{
	return bsearch(&id, t->queued, t->nq, sizeof(id), cmp_u64) != NULL;
}

/* The node whose control block is ctl, or NULL. */
static const struct node *owner_of(const struct tree *t, uintptr_t ctl)
{
	size_t lo = 0, hi = t->nr;

	while (ctl && lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = cmp_uptr(t->by_ctl[mid]->r->ctl, ctl);

		if (!c)
			return t->by_ctl[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Gather every part into one tree; false when memory ran out. */
static bool build(struct tree *t)
{
	const struct weft__dump_in *in = t->in;
	size_t nr = 0, ng = 0, nq = 0, k = 0, j = 0, q = 0;

	for (int i = 0; i < in->nr; i++) {
		const struct weft__part *p = in->parts[i];

		if (p) {
			nr += p->recs.n;
			ng += p->grps.n;
			nq += p->queued.n;
		}
	}
	t->nodes = calloc(nr + 1, sizeof(*t->nodes));
	t->by_ctl = calloc(nr + 1, sizeof(*t->by_ctl));
	t->grps = calloc(ng + 1, sizeof(*t->grps));
	t->by_owner = calloc(ng + 1, sizeof(*t->by_owner));
	t->shown = calloc(ng + 1, sizeof(*t->shown));
	t->queued = calloc(nq + 1, sizeof(*t->queued));
	if (!t->nodes || !t->by_ctl || !t->grps || !t->by_owner || !t->shown ||
	    !t->queued)
		return false;
	for (int i = 0; i < in->nr; i++) {
		const struct weft__part *p = in->parts[i];

		if (!p)
			continue;
		for (size_t r = 0; r < p->recs.n; r++) {
			const struct weft__rec *rec =
				(const struct weft__rec *)p->recs.p + r;

			t->nodes[k++] = (struct node){
				rec, (const uintptr_t *)p->pcs.p + rec->pc0
			};
		}
		if (p->grps.n)
			memcpy(t->grps + j, p->grps.p,
			       p->grps.n * sizeof(*t->grps));
		j += p->grps.n;
		if (p->queued.n)
			memcpy(t->queued + q, p->queued.p,
			       p->queued.n * sizeof(uint64_t));
		q += p->queued.n;
		t->oom += p->oom;
	}
	qsort(t->nodes, k, sizeof(*t->nodes), by_group);
	t->nr = k;
	for (size_t i = 0; i < k; i++)
		t->by_ctl[i] = &t->nodes[i];
	qsort(t->by_ctl, k, sizeof(*t->by_ctl), by_ctl);
	qsort(t->queued, q, sizeof(*t->queued), cmp_u64);
	t->nq = q;
	qsort(t->grps, j, sizeof(*t->grps), by_addr);
	for (size_t i = 0; i < j; i++)
		if (!t->ngrps || t->grps[t->ngrps - 1].addr != t->grps[i].addr)
			t->grps[t->ngrps++] = t->grps[i];
	for (size_t i = 0; i < t->ngrps; i++)
		t->by_owner[i] = &t->grps[i];
	qsort(t->by_owner, t->ngrps, sizeof(*t->by_owner), by_owner);
	return true;
}

static void unbuild(struct tree *t)
{
	free(t->nodes);
	free(t->by_ctl);
	free(t->grps);
	free(t->by_owner);
	free(t->shown);
	free(t->queued);
}

/* ---- words ---- */

static const char *state_name(const struct tree *t, const struct weft__rec *r)
{
	static const char *const names[] = { [REC_PARKED] = "parked",
					     [REC_RUNNABLE] = "runnable",
					     [REC_NEW] = "new",
					     [REC_RUNNING] = "running" };

	if (r->state == REC_PARKED && (r->woken || was_queued(t, r->id)))
		return names[REC_RUNNABLE];
	return names[r->state];
}

static const char *const wait_kinds[] = {
	[WEFT__ON_NOTHING] = NULL,   [WEFT__ON_RING] = "io",
	[WEFT__ON_SLEEP] = "sleep",  [WEFT__ON_MUTEX] = "mutex",
	[WEFT__ON_COND] = "cond",    [WEFT__ON_SEM] = "sem",
	[WEFT__ON_CHAN] = "channel", [WEFT__ON_JOIN] = "join",
	[WEFT__ON_GROUP] = "group",  [WEFT__ON_FUTURE] = "future",
	[WEFT__ON_POOL] = "pool",
};

static const char *wait_kind(const struct weft__note *n)
{
	return n->on < ARRAY_SIZE(wait_kinds) ? wait_kinds[n->on] : NULL;
}

/* Opcodes whose SQE names an address rather than an fd. */
static bool op_on_addr(unsigned op)
{
	const char *name = weft__op_name(op);

	return name && !strncmp(name, "FUTEX_", 6);
}

static const char *policy_name(int p)
{
	return p == WEFT_SUPERVISE     ? "supervise" :
	       p == WEFT_FIRST_SUCCESS ? "first-success" :
					 "fail-fast";
}

static const char *reason_name(int r)
{
	static const char *const names[] = {
		[GROUP_OWNER] = "owner",       [GROUP_FAILURE] = "failure",
		[GROUP_SUCCESS] = "success",   [GROUP_OUTER] = "outer",
		[GROUP_DEADLINE] = "deadline",
	};

	return r > 0 && (size_t)r < ARRAY_SIZE(names) ? names[r] : NULL;
}

static const char *group_state(int s)
{
	return s == GROUP_JOINING ? "joining" :
	       s == GROUP_JOINED  ? "joined" :
				    "open";
}

static const char *base_name(const char *path)
{
	const char *s = path ? strrchr(path, '/') : NULL;

	return s ? s + 1 : path;
}

/* A JSON string: escapes, and U+FFFD for bytes that are not UTF-8. */
static void put_str(struct weft__out *o, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (!s) {
		put(o, "null");
		return;
	}
	put(o, "\"");
	while (*p) {
		unsigned n = *p < 0x80			       ? 0 :
			     (*p & 0xe0) == 0xc0 && *p >= 0xc2 ? 1 :
			     (*p & 0xf0) == 0xe0	       ? 2 :
			     (*p & 0xf8) == 0xf0 && *p <= 0xf4 ? 3 :
								 4;
		unsigned i;

		if (*p == '"' || *p == '\\') {
			put(o, "\\%c", *p++);
			continue;
		}
		if (*p < 0x20) {
			put(o, "\\u%04x", *p++);
			continue;
		}
		for (i = 1; i <= n && n < 4; i++)
			if ((p[i] & 0xc0) != 0x80)
				break;
		if (n == 4 || i <= n) {
			put(o, "\\ufffd");
			p++;
			continue;
		}
		put(o, "%.*s", (int)n + 1, (const char *)p);
		p += n + 1;
	}
	put(o, "\"");
}

/* ---- text ---- */

static void text_wait(struct tree *t, const struct weft__rec *r)
{
	const struct weft__note *n = &r->note;
	const char *kind = wait_kind(n), *op = weft__op_name(n->op);

	if (kind && n->on == WEFT__ON_RING) {
		if (n->n > 1)
			put(t->o, ": %s on %u fds (the first %d)",
			    op ? op : "?", n->n, n->fd);
		else if (op_on_addr(n->op))
			put(t->o, ": %s 0x%llx", op,
			    (unsigned long long)n->obj);
		else
			put(t->o, ": %s fd %d", op ? op : "?", n->fd);
	} else if (n->on == WEFT__ON_JOIN) {
		put(t->o, ": join #%llu", (unsigned long long)r->target);
	} else if (n->on == WEFT__ON_GROUP) {
		put(t->o, ": join of group 0x%llx", (unsigned long long)n->obj);
	} else if (n->on == WEFT__ON_SLEEP || n->on == WEFT__ON_POOL) {
		put(t->o, ": %s",
		    n->on == WEFT__ON_SLEEP ? "sleep" :
					      "a call on the blocking pool");
	} else if (kind) {
		put(t->o, ": %s 0x%llx", kind, (unsigned long long)n->obj);
	}
	if (r->deadline >= 0)
		put(t->o, ", deadline in %.0f ms",
		    (r->deadline - t->in->now) / 1e6);
	if (r->woken)
		put(t->o, " (woken)");
}

static void indent(struct tree *t, int depth)
{
	put(t->o, "%*s", 2 * depth, "");
}

static void text_frames(struct tree *t, const struct node *n, int depth)
{
	struct weft__sym sym;

	if (n->r->trace == TRACE_NO_ROOM) {
		indent(t, depth + 2);
		put(t->o, "(not traced: too little stack left)\n");
	}
	for (size_t i = 0; i < n->r->nr_pc; i++) {
		uintptr_t pc = n->pc[i];

		weft__syms_find(t->syms, pc, &sym);
		indent(t, depth + 2);
		if (sym.func)
			put(t->o, "at %s+0x%llx (%s)\n", sym.func,
			    (unsigned long long)sym.off, base_name(sym.file));
		else if (sym.file)
			put(t->o, "at 0x%llx (%s+0x%llx)\n",
			    (unsigned long long)pc, base_name(sym.file),
			    (unsigned long long)(pc - sym.base));
		else
			put(t->o, "at 0x%llx\n", (unsigned long long)pc);
	}
}

static void text_group(struct tree *t, size_t g, int depth);

static void text_thread(struct tree *t, const struct node *n, int depth)
{
	const struct weft__rec *r = n->r;
	const struct weft__grp key = { .owner_ctl = r->ctl };
	size_t lo = 0, hi = t->ngrps;

	indent(t, depth);
	put(t->o, "#%llu \"%s\" %s", (unsigned long long)r->id, r->name,
	    state_name(t, r));
	if (r->carrier >= 0)
		put(t->o, " on carrier %d", r->carrier);
	if (r->state == REC_RUNNING)
		put(t->o, " (this dump)");
	text_wait(t, r);
	put(t->o, "\n");
	text_frames(t, n, depth);
	/* Its groups: the range of by_owner with this owner. */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (cmp_uptr(t->by_owner[mid]->owner_ctl, key.owner_ctl) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < t->ngrps && t->by_owner[lo]->owner_ctl == r->ctl; lo++)
		text_group(t, t->by_owner[lo] - t->grps, depth + 1);
}

/* The first node that is a member of group addr. */
static size_t members_of(const struct tree *t, uintptr_t addr)
{
	size_t lo = 0, hi = t->nr;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (t->nodes[mid].r->group < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void text_group(struct tree *t, size_t g, int depth)
{
	const struct weft__grp *x = &t->grps[g];
	const char *why = reason_name(x->reason);

	if (t->shown[g])
		return;
	t->shown[g] = true;
	indent(t, depth);
	put(t->o, "%sgroup 0x%llx: %s, %s, %u live", x->root ? "root " : "",
	    (unsigned long long)x->addr, policy_name(x->policy),
	    group_state(x->state), x->live);
	if (x->limit)
		put(t->o, ", at most %u", x->limit);
	if (why)
		put(t->o, ", cancelled (%s)", why);
	put(t->o, "\n");
	for (size_t i = members_of(t, x->addr);
	     i < t->nr && t->nodes[i].r->group == x->addr; i++)
		text_thread(t, &t->nodes[i], depth + 1);
}

static void text_head(struct tree *t)
{
	const struct weft__dump_in *in = t->in;

	put(t->o,
	    "weft thread dump: pid %d, %zu virtual threads, %d carriers\n",
	    (int)getpid(), t->nr, in->nr);
	for (int i = 0; i < in->nr; i++) {
		if (in->parts[i])
			continue;
		put(t->o, "carrier %d did not stop within 1000 ms", i);
		if (in->stuck[i].id)
			put(t->o, ": it runs #%llu \"%s\"",
			    (unsigned long long)in->stuck[i].id,
			    in->stuck[i].name);
		put(t->o, "; its threads are not shown\n");
	}
	if (in->nr && !in->stopped)
		put(t->o, "migratable threads are not shown: not every "
			  "carrier stopped\n");
	if (t->oom)
		put(t->o, "some threads are missing: out of memory\n");
	put(t->o, "\n");
}

/* ---- JSON ---- */

static void json_group(struct tree *t, size_t g, bool *first);

static void json_wait(struct tree *t, const struct weft__rec *r)
{
	const struct weft__note *n = &r->note;
	const char *kind = wait_kind(n);

	put(t->o, ",\"wait\":");
	if (!kind) {
		put(t->o, "null");
		return;
	}
	put(t->o, "{\"kind\":\"%s\"", kind);
	if (n->on == WEFT__ON_RING) {
		put(t->o, ",\"op\":");
		put_str(t->o, weft__op_name(n->op));
		if (op_on_addr(n->op))
			put(t->o, ",\"address\":\"0x%llx\"",
			    (unsigned long long)n->obj);
		else
			put(t->o, ",\"fd\":%d", n->fd);
		if (n->n > 1)
			put(t->o, ",\"fds\":%u", n->n);
	} else if (n->on != WEFT__ON_SLEEP && n->on != WEFT__ON_POOL) {
		put(t->o, ",\"address\":\"0x%llx\"",
		    (unsigned long long)n->obj);
	}
	if (n->on == WEFT__ON_JOIN)
		put(t->o, ",\"thread\":%llu", (unsigned long long)r->target);
	put(t->o, "}");
}

static void json_thread(struct tree *t, const struct node *n)
{
	const struct weft__rec *r = n->r;
	struct weft__sym sym;
	bool first = true;
	size_t lo = 0, hi = t->ngrps;

	put(t->o, "{\"id\":%llu,\"name\":", (unsigned long long)r->id);
	put_str(t->o, r->name);
	put(t->o, ",\"state\":\"%s\"", state_name(t, r));
	if (r->carrier >= 0)
		put(t->o, ",\"carrier\":%d", r->carrier);
	else
		put(t->o, ",\"carrier\":null");
	put(t->o, ",\"group\":");
	if (r->group)
		put(t->o, "\"0x%llx\"", (unsigned long long)r->group);
	else
		put(t->o, "null");
	json_wait(t, r);
	put(t->o, ",\"woken\":%s", r->woken ? "true" : "false");
	if (r->deadline >= 0)
		put(t->o, ",\"deadline_ms\":%.3f",
		    (r->deadline - t->in->now) / 1e6);
	else
		put(t->o, ",\"deadline_ms\":null");
	put(t->o, ",\"traced\":%s", r->trace == TRACE_OK ? "true" : "false");
	if (r->trace == TRACE_NO_ROOM)
		put(t->o, ",\"untraced\":\"too little stack left\"");
	put(t->o, ",\"stack\":[");
	for (size_t i = 0; i < r->nr_pc; i++) {
		weft__syms_find(t->syms, n->pc[i], &sym);
		put(t->o, "%s{\"pc\":\"0x%llx\",\"function\":", i ? "," : "",
		    (unsigned long long)n->pc[i]);
		put_str(t->o, sym.func);
		put(t->o, ",\"offset\":");
		if (sym.func)
			put(t->o, "%llu", (unsigned long long)sym.off);
		else if (sym.file)
			put(t->o, "%llu",
			    (unsigned long long)(n->pc[i] - sym.base));
		else
			put(t->o, "null");
		put(t->o, ",\"object\":");
		put_str(t->o, sym.file);
		put(t->o, "}");
	}
	put(t->o, "],\"groups\":[");
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (cmp_uptr(t->by_owner[mid]->owner_ctl, r->ctl) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < t->ngrps && t->by_owner[lo]->owner_ctl == r->ctl; lo++)
		json_group(t, t->by_owner[lo] - t->grps, &first);
	put(t->o, "]}");
}

static void json_group(struct tree *t, size_t g, bool *first)
{
	const struct weft__grp *x = &t->grps[g];

	if (t->shown[g])
		return;
	t->shown[g] = true;
	put(t->o,
	    "%s{\"address\":\"0x%llx\",\"root\":%s,\"policy\":\"%s\","
	    "\"state\":\"%s\",\"live\":%u,\"max_concurrency\":%u,"
	    "\"cancelled\":",
	    *first ? "" : ",", (unsigned long long)x->addr,
	    x->root ? "true" : "false", policy_name(x->policy),
	    group_state(x->state), x->live, x->limit);
	*first = false;
	put_str(t->o, reason_name(x->reason));
	put(t->o, ",\"threads\":[");
	for (size_t i = members_of(t, x->addr);
	     i < t->nr && t->nodes[i].r->group == x->addr; i++) {
		if (i != members_of(t, x->addr))
			put(t->o, ",");
		json_thread(t, &t->nodes[i]);
	}
	put(t->o, "]}");
}

static void json_head(struct tree *t)
{
	const struct weft__dump_in *in = t->in;

	put(t->o, "{\"pid\":%d,\"time_ns\":%lld,\"complete\":%s,\"carriers\":[",
	    (int)getpid(), (long long)in->now,
	    in->stopped && !t->oom ? "true" : "false");
	for (int i = 0; i < in->nr; i++) {
		put(t->o, "%s{\"index\":%d,\"stopped\":%s", i ? "," : "", i,
		    in->parts[i] ? "true" : "false");
		if (!in->parts[i] && in->stuck[i].id) {
			put(t->o, ",\"running\":{\"id\":%llu,\"name\":",
			    (unsigned long long)in->stuck[i].id);
			put_str(t->o, in->stuck[i].name);
			put(t->o, "}");
		}
		put(t->o, "}");
	}
	put(t->o, "]");
}

/* ---- both ---- */

void weft__dump_format(const struct weft__dump_in *in, struct weft__out *o)
{
	struct tree t = { .in = in,
			  .o = o,
			  .json = in->flags & WEFT_DUMP_JSON };
	bool first = true;
	size_t i;

	if (!build(&t)) {
		o->oom = true;
		unbuild(&t);
		return;
	}
	t.syms = weft__syms_new(); /* without it, exported names only */
	if (t.json) {
		json_head(&t);
		put(o, ",\"threads\":[");
		for (i = 0; i < t.nr && !t.nodes[i].r->group; i++) {
			put(o, "%s", i ? "," : "");
			json_thread(&t, &t.nodes[i]);
		}
		put(o, "],\"groups\":[");
		for (size_t g = 0; g < t.ngrps; g++)
			if (!owner_of(&t, t.grps[g].owner_ctl))
				json_group(&t, g, &first);
		put(o, "]}\n");
	} else {
		text_head(&t);
		for (i = 0; i < t.nr && !t.nodes[i].r->group; i++)
			text_thread(&t, &t.nodes[i], 0);
		for (size_t g = 0; g < t.ngrps; g++)
			if (!owner_of(&t, t.grps[g].owner_ctl))
				text_group(&t, g, 0);
		put(o, "\n");
	}
	weft__syms_free(t.syms);
	unbuild(&t);
}
