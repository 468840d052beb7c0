/* SPDX-License-Identifier: MIT */
/*
 * Name lookups: getaddrinfo and its kin read files and talk to resolvers
 * through libc's internal calls, which the shim cannot see, so on a
 * virtual thread each runs whole on the runtime's blocking pool while the
 * thread parks.  errno and h_errno are per kernel thread: what the pool
 * thread's call left in them is carried back to the caller, on failure
 * only.
 */
#include "shim.h"

#include <netdb.h>

struct call {
	int kind;
	const void *a, *b;
	const void *hints;
	void *out, *buf;
	socklen_t alen;
	size_t len;
	int type, flags;
	char *host, *serv;
	socklen_t hostlen, servlen;
	void **result;
	int *herrp;
	/* results */
	int r;
	void *h;
	int err, herr;
};

enum { GAI, GNI, GHBN, GHBN2, GHBA, GHBN_R, GHBN2_R, GHBA_R };

static void run(void *arg)
{
	struct call *c = arg;

	switch (c->kind) {
	case GAI:
		c->r = REAL(getaddrinfo)(c->a, c->b, c->hints, c->out);
		break;
	case GNI:
		c->r = REAL(getnameinfo)(c->a, c->alen, c->host, c->hostlen,
					 c->serv, c->servlen, c->flags);
		break;
	case GHBN:
		c->h = REAL(gethostbyname)(c->a);
		break;
	case GHBN2:
		c->h = REAL(gethostbyname2)(c->a, c->type);
		break;
	case GHBA:
		c->h = REAL(gethostbyaddr)(c->a, c->alen, c->type);
		break;
	case GHBN_R:
		c->r = REAL(gethostbyname_r)(c->a, c->out, c->buf, c->len,
					     (struct hostent **)c->result,
					     c->herrp);
		break;
	case GHBN2_R:
		c->r = REAL(gethostbyname2_r)(c->a, c->type, c->out, c->buf,
					      c->len,
					      (struct hostent **)c->result,
					      c->herrp);
		break;
	case GHBA_R:
		c->r = REAL(gethostbyaddr_r)(c->a, c->alen, c->type, c->out,
					     c->buf, c->len,
					     (struct hostent **)c->result,
					     c->herrp);
		break;
	}
	c->err = errno;
	c->herr = h_errno;
}

/* Run c on the pool; errno as the call left it if it failed. */
static void on_pool(struct call *c, bool failed_if_r)
{
	weft__impl_blocking(run, c);
	if (failed_if_r ? c->r != 0 : c->h == NULL) {
		errno = c->err;
		h_errno = c->herr;
	}
}

WEFT_EXPORT int getaddrinfo(const char *node, const char *service,
			    const struct addrinfo *hints, struct addrinfo **res)
{
	struct call c = { .kind = GAI, .a = node, .b = service };

	if (!weft__on_vthread())
		return REAL(getaddrinfo)(node, service, hints, res);
	c.hints = hints;
	c.out = res;
	on_pool(&c, true);
	return c.r;
}

WEFT_EXPORT int getnameinfo(const struct sockaddr *sa, socklen_t salen,
			    char *host, socklen_t hostlen, char *serv,
			    socklen_t servlen, int flags)
{
	struct call c = { .kind = GNI, .a = sa, .alen = salen };

	if (!weft__on_vthread())
		return REAL(getnameinfo)(sa, salen, host, hostlen, serv,
					 servlen, flags);
	c.host = host, c.hostlen = hostlen;
	c.serv = serv, c.servlen = servlen;
	c.flags = flags;
	on_pool(&c, true);
	return c.r;
}

WEFT_EXPORT struct hostent *gethostbyname(const char *name)
{
	struct call c = { .kind = GHBN, .a = name };

	if (!weft__on_vthread())
		return REAL(gethostbyname)(name);
	on_pool(&c, false);
	return c.h;
}

WEFT_EXPORT struct hostent *gethostbyname2(const char *name, int af)
{
	struct call c = { .kind = GHBN2, .a = name, .type = af };

	if (!weft__on_vthread())
		return REAL(gethostbyname2)(name, af);
	on_pool(&c, false);
	return c.h;
}

WEFT_EXPORT struct hostent *gethostbyaddr(const void *addr, socklen_t len,
					  int type)
{
	struct call c = { .kind = GHBA, .a = addr, .alen = len, .type = type };

	if (!weft__on_vthread())
		return REAL(gethostbyaddr)(addr, len, type);
	on_pool(&c, false);
	return c.h;
}

WEFT_EXPORT int gethostbyname_r(const char *name, struct hostent *ret,
				char *buf, size_t buflen,
				struct hostent **result, int *h_errnop)
{
	struct call c = { .kind = GHBN_R, .a = name, .out = ret, .buf = buf };

	if (!weft__on_vthread())
		return REAL(gethostbyname_r)(name, ret, buf, buflen, result,
					     h_errnop);
	c.len = buflen;
	c.result = (void **)result;
	c.herrp = h_errnop;
	on_pool(&c, true);
	return c.r;
}

WEFT_EXPORT int gethostbyname2_r(const char *name, int af, struct hostent *ret,
				 char *buf, size_t buflen,
				 struct hostent **result, int *h_errnop)
{
	struct call c = { .kind = GHBN2_R, .a = name, .out = ret, .buf = buf };

	if (!weft__on_vthread())
		return REAL(gethostbyname2_r)(name, af, ret, buf, buflen,
					      result, h_errnop);
	c.type = af;
	c.len = buflen;
	c.result = (void **)result;
	c.herrp = h_errnop;
	on_pool(&c, true);
	return c.r;
}

WEFT_EXPORT int gethostbyaddr_r(const void *addr, socklen_t len, int type,
				struct hostent *ret, char *buf, size_t buflen,
				struct hostent **result, int *h_errnop)
{
	struct call c = { .kind = GHBA_R, .a = addr, .out = ret, .buf = buf };

	if (!weft__on_vthread())
		return REAL(gethostbyaddr_r)(addr, len, type, ret, buf, buflen,
					     result, h_errnop);
	c.alen = len;
	c.type = type;
	c.len = buflen;
	c.result = (void **)result;
	c.herrp = h_errnop;
	on_pool(&c, true);
	return c.r;
}
