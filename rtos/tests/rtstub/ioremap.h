/* Declarations of components/mm/ioremap.h (built whenever ARCH_MM_MMU is set). Not a kernel. */
#ifndef RTSTUB_IOREMAP_H
#define RTSTUB_IOREMAP_H
#include <stddef.h>
void *rt_ioremap(void *paddr, size_t size);
void *rt_ioremap_nocache(void *paddr, size_t size);
void *rt_ioremap_cached(void *paddr, size_t size);
void rt_iounmap(volatile void *addr);
#endif
