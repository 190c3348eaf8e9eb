/* Declarations of the RT-Thread HAL API the port uses (see rtthread.h here). */
#ifndef RTSTUB_RTHW_H
#define RTSTUB_RTHW_H
typedef void (*rt_isr_handler_t)(int vector, void *param);
rt_isr_handler_t rt_hw_interrupt_install(int vector, rt_isr_handler_t handler, void *param, const char *name);
void rt_hw_interrupt_umask(int vector);
typedef long rt_base_t;
rt_base_t rt_hw_interrupt_disable(void);
void rt_hw_interrupt_enable(rt_base_t level);
#endif
