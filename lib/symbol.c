/* SPDX-License-Identifier: MIT */
/*
 * Names for code addresses, for thread dumps: dladdr() for the symbols an
 * object exports, and the ELF symbol table of its file for the others
 * (static and hidden functions, which a build that is not stripped keeps
 * in .symtab).  An object's table is read once per dump, on demand.
 * Files are opened with raw system calls: a dump may be printed by a
 * carrier's scheduler under the shim, whose open() would park.
 */
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dump.h"

struct fsym {
	uintptr_t lo, hi; /* [lo, hi) in memory */
	const char *name; /* in the mapped file */
};

struct module {
	uintptr_t bias; /* the link map's l_addr */
	const char *path;
	void *map; /* the file, or NULL if it could not be read */
	size_t len;
	struct fsym *syms; /* sorted by lo */
	size_t n;
	struct module *next;
};

struct weft__syms {
	struct module *mods;
	char exe[PATH_MAX]; /* the main program's path */
};

struct weft__syms *weft__syms_new(void)
{
	struct weft__syms *s = calloc(1, sizeof(*s));
	long n;

	if (!s)
		return NULL;
	n = syscall(SYS_readlinkat, AT_FDCWD, "/proc/self/exe", s->exe,
		    sizeof(s->exe) - 1);
	s->exe[n > 0 ? n : 0] = '\0';
	return s;
}

void weft__syms_free(struct weft__syms *s)
{
	struct module *m, *next;

	if (!s)
		return;
	for (m = s->mods; m; m = next) {
		next = m->next;
		if (m->map)
			munmap(m->map, m->len);
		free(m->syms);
		free(m);
	}
	free(s);
}

static int by_lo(const void *a, const void *b)
{
	const struct fsym *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Does [off, off + len) lie inside the file? */
static bool inside(const struct module *m, uint64_t off, uint64_t len)
{
	return off <= m->len && len <= m->len - off;
}

/* Read the functions of m's .symtab; on any trouble, leave none. */
static void load(struct module *m)
{
	const Elf64_Ehdr *eh;
	const Elf64_Shdr *sh;
	struct stat st;
	int fd;

	fd = syscall(SYS_openat, AT_FDCWD, m->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && st.st_size > (off_t)sizeof(*eh)) {
		m->len = st.st_size;
		m->map = mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m->map == MAP_FAILED)
			m->map = NULL;
	}
	syscall(SYS_close, fd);
	if (!m->map)
		return;
	eh = m->map;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_shentsize != sizeof(*sh) ||
	    !inside(m, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(*sh)))
		return;
	sh = (const Elf64_Shdr *)((const char *)m->map + eh->e_shoff);
	for (unsigned i = 0; i < eh->e_shnum; i++) {
		const Elf64_Shdr *str = &sh[sh[i].sh_link];
		const Elf64_Sym *sym;
		size_t n;

		if (sh[i].sh_type != SHT_SYMTAB ||
		    sh[i].sh_link >= eh->e_shnum ||
		    !inside(m, sh[i].sh_offset, sh[i].sh_size) ||
		    !inside(m, str->sh_offset, str->sh_size) || !str->sh_size)
			continue;
		sym = (const Elf64_Sym *)((const char *)m->map +
					  sh[i].sh_offset);
		n = sh[i].sh_size / sizeof(*sym);
		m->syms = malloc(n * sizeof(*m->syms));
		if (!m->syms)
			return;
		for (size_t k = 0; k < n; k++) {
			int type = ELF64_ST_TYPE(sym[k].st_info);

			if ((type != STT_FUNC && type != STT_GNU_IFUNC) ||
			    sym[k].st_shndx == SHN_UNDEF || !sym[k].st_size ||
			    sym[k].st_name >= str->sh_size)
				continue;
			m->syms[m->n++] = (struct fsym){
				.lo = m->bias + sym[k].st_value,
				.hi = m->bias + sym[k].st_value +
				      sym[k].st_size,
				.name = (const char *)m->map + str->sh_offset +
					sym[k].st_name,
			};
		}
		/* The table's strings end in NUL inside the section. */
		if (((const char *)m->map)[str->sh_offset + str->sh_size - 1]) {
			m->n = 0;
			return;
		}
		qsort(m->syms, m->n, sizeof(*m->syms), by_lo);
		return;
	}
}

static struct module *module_of(struct weft__syms *s, struct link_map *lm)
{
	struct module *m;

	for (m = s->mods; m; m = m->next)
		if (m->bias == lm->l_addr)
			return m;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->bias = lm->l_addr;
	m->path = lm->l_name && *lm->l_name ? lm->l_name : s->exe;
	load(m);
	m->next = s->mods;
	s->mods = m;
	return m;
}

/* The function holding addr in m, or NULL. */
static const struct fsym *lookup(const struct module *m, uintptr_t addr)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) { /* the last symbol starting at or below addr */
		size_t mid = (lo + hi) / 2;

		if (m->syms[mid].lo <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Symbols may nest (aliases): look back over those that start here. */
	for (size_t i = lo; i > 0 && lo - i < 8; i--)
		if (addr < m->syms[i - 1].hi)
			return &m->syms[i - 1];
	return NULL;
}

/*
 * pc is a return address: the call is just before it, so that is the
 * address named (a call may end its function).
 */
void weft__syms_find(struct weft__syms *s, uintptr_t pc, struct weft__sym *ret)
{
	struct link_map *lm = NULL;
	const struct fsym *f;
	struct module *m;
	Dl_info info;

	*ret = (struct weft__sym){ 0 };
	if (!dladdr1((void *)(pc - 1), &info, (void **)&lm, RTLD_DL_LINKMAP))
		return;
	ret->base = (uintptr_t)info.dli_fbase;
	ret->file = info.dli_fname && *info.dli_fname ? info.dli_fname :
		    s				      ? s->exe :
							NULL;
	if (info.dli_sname && info.dli_saddr) {
		ret->func = info.dli_sname;
		ret->off = pc - (uintptr_t)info.dli_saddr;
		return;
	}
	if (!s || !lm || !(m = module_of(s, lm)))
		return;
	ret->file = m->path;
	f = lookup(m, pc - 1);
	if (f) {
		ret->func = f->name;
		ret->off = pc - f->lo;
	}
}
