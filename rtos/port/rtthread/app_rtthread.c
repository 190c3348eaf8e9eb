/*
 * Entry of the car controller on RT-Thread: map the shared region and start the app.
 *
 * rtconfig.h (or the command line) gives the region's physical address and size:
 *   IVMR_REGION_PA     base of the inter-VM region (page aligned; from the vmRT-Thread SDK)
 *   IVMR_REGION_SIZE   bytes mapped (2 blocks: 2 * roundup(0x200 + capacity, 4096))
 *   IVMR_CAPACITY      ring capacity (default 16384; the Linux side must use the same)
 * The region is mapped Normal Write-Back (rt_ioremap_cached) as Linux must map it too:
 * mismatched attributes between the two VMs break coherency.
 */
#include <rtthread.h>

#include "../../app/app.h"
#include "../port.h"

/* rt_ioremap_cached() exists whenever the MMU is on: components/mm (ioremap.c) is built on
 * ARCH_MM_MMU, with or without RT-Thread Smart. Testing RT_USING_SMART instead would make a
 * non-Smart build with the MMU on use the physical address as a pointer (a data abort). Without
 * an MMU the address space is flat and the physical address is the address. */
#ifdef ARCH_MM_MMU
#include <ioremap.h>
#define IVMR_MAP(pa, size) rt_ioremap_cached((void *)(pa), (size))
#else
#define IVMR_MAP(pa, size) ((void *)(pa))
#endif

#ifndef IVMR_REGION_PA
#error "Define IVMR_REGION_PA (physical base of the inter-VM region, from the vmRT-Thread SDK)."
#endif
#ifndef IVMR_CAPACITY
#define IVMR_CAPACITY 16384u
#endif
#ifndef IVMR_REGION_SIZE
#define IVMR_REGION_SIZE (2u * ((0x200u + IVMR_CAPACITY + 4095u) & ~4095u))
#endif

static app_cfg_t cfg;

static int car_app_start(void)
{
    void *base = IVMR_MAP(IVMR_REGION_PA, IVMR_REGION_SIZE);
    if (base == RT_NULL) {
        port_log("cannot map the IVMR region at 0x%lx", (unsigned long)IVMR_REGION_PA);
        return -RT_ERROR;
    }
    cfg.region = base;
    cfg.region_size = IVMR_REGION_SIZE;
    cfg.capacity = IVMR_CAPACITY;
    cfg.max_msg = 1024;
    cfg.hb_ms = 100;
    cfg.poll_ms = 1;
    cfg.tick_ms = 10;
    cfg.telemetry_ms = 100;
    car_default_limits(&cfg.limits);
    if (app_start(&cfg) != 0) {
        port_log("car controller failed to start");
        return -RT_ERROR;
    }
    port_log("car controller started, region 0x%lx", (unsigned long)IVMR_REGION_PA);
    return RT_EOK;
}
INIT_APP_EXPORT(car_app_start);
