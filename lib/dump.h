/* SPDX-License-Identifier: MIT */
/* Thread dumps: what the carriers record (dump.c) and the printer reads. */
#ifndef WEFT_DUMP_H
#define WEFT_DUMP_H

#include "runtime.h"

#define WEFT__TRACE_MAX 48 /* frames kept of a stack */

/* A carrier asks a parked thread for its backtrace (dump.c). */
struct weft__trace {
	void *back;    /* the asking carrier's saved context */
	void *back_lo; /* its stack, for the sanitizer's annotations */
	size_t back_size;
	void *back_tsan; /* its ThreadSanitizer fiber */
	int n;
	void *pc[WEFT__TRACE_MAX];
};

enum { REC_PARKED, REC_RUNNABLE, REC_NEW, REC_RUNNING };
enum {
	TRACE_OK,      /* pc[] holds the stack */
	TRACE_NONE,    /* a new thread: no stack yet */
	TRACE_NO_ROOM, /* too little stack left below its frames */
};

/* One virtual thread, as its carrier saw it. */
struct weft__rec {
	uint64_t id;
	char name[32];
	uint8_t state; /* REC_* */
	uint8_t trace; /* TRACE_* */
	bool woken;    /* its wait is over: it runs again soon */
	int carrier;   /* index, or -1 */
	struct weft__note note;
	uint64_t target;   /* WEFT__ON_JOIN: the id of the thread joined */
	int64_t deadline;  /* its timer's, or -1 */
	uintptr_t group;   /* the group it is a member of, or 0 */
	uintptr_t ctl;	   /* its control block: owners of groups name it */
	size_t pc0, nr_pc; /* its frames, in its part's pcs */
};

/* A thread group, as read under its lock. */
struct weft__grp {
	uintptr_t addr;
	uintptr_t owner_ctl; /* the owner's control block, or 0 */
	unsigned live, limit;
	int state, policy, reason;
	bool root;
};

struct weft__vec {
	void *p;
	size_t n, cap;
};

/* What one carrier recorded. */
struct weft__part {
	struct weft__vec recs;	 /* struct weft__rec */
	struct weft__vec pcs;	 /* uintptr_t */
	struct weft__vec grps;	 /* struct weft__grp */
	struct weft__vec queued; /* uint64_t: ids seen in a queue */
	bool oom;		 /* something could not be recorded */
};

/* A carrier that did not answer, and the thread it was running. */
struct weft__stuck {
	uint64_t id; /* 0: none */
	char name[32];
};

struct weft__dump_in {
	struct weft__part **parts; /* [nr]: NULL for one that did not answer */
	struct weft__stuck *stuck; /* [nr] */
	int nr;			   /* carriers */
	bool stopped;		   /* every carrier stopped */
	int64_t now;
	unsigned flags; /* WEFT_DUMP_* */
};

/* A growing text; oom once an allocation failed. */
struct weft__out {
	char *s;
	size_t n, cap;
	bool oom;
};

/* dump.c */
hidden bool weft__vec_push(struct weft__vec *v, const void *e, size_t size);

/* dump_out.c */
hidden void weft__dump_format(const struct weft__dump_in *in,
			      struct weft__out *o);
hidden __attribute__((format(printf, 2, 3))) void
weft__out_printf(struct weft__out *o, const char *fmt, ...);

/* symbol.c: name the code at an address, for one dump's duration. */
struct weft__syms;
struct weft__sym {
	const char *func; /* NULL: unknown */
	uintptr_t off;	  /* from func */
	const char *file; /* the object's path, or NULL */
	uintptr_t base;	  /* where the object is loaded */
};
hidden struct weft__syms *weft__syms_new(void);
hidden void weft__syms_free(struct weft__syms *s);
hidden void weft__syms_find(struct weft__syms *s, uintptr_t pc,
			    struct weft__sym *ret);

#endif
