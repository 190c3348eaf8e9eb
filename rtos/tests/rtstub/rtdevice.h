/* Declarations of the RT-Thread device-model API the port uses under RT_USING_PIC / RT_USING_OFW
 * (components/drivers/include/drivers/pic.h, ofw.h, ofw_irq.h), as documented. Not a kernel. */
#ifndef RTSTUB_RTDEVICE_H
#define RTSTUB_RTDEVICE_H
#include "rtthread.h"
#define RT_IRQ_F_NONE 0
typedef void (*rt_isr_handler_t)(int vector, void *param);
rt_err_t rt_pic_attach_irq(int irq, rt_isr_handler_t handler, void *uid, const char *name, int flags);
void rt_pic_irq_unmask(int irq);
struct rt_ofw_node;
struct rt_ofw_node *rt_ofw_find_node_by_path(const char *path);
int rt_ofw_get_irq(struct rt_ofw_node *np, int index);
void rt_ofw_node_put(struct rt_ofw_node *np);
#endif
