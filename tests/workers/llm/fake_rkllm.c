/* A stand-in librkllmrt.so for the tests: the rkllm functions with the real signatures and
 * structs (see rkllm_stub.h), streaming a planted token sequence through the result callback.
 *
 * - tokens come from fake_plant(): pieces separated by '\n'; a piece "~WAIT" sends a WAITING
 *   callback (text withheld, as the runtime does for an incomplete UTF-8 character), "~ERROR"
 *   an ERROR callback and rkllm_run returning -1;
 * - rkllm_abort() stops the stream before the next token; called from inside the result
 *   callback it is counted apart ("abort_in_callback"), since no upstream code does that;
 * - the callback's return value is honoured as rkllm.h documents it: 1 pauses the run (no more
 *   tokens, rkllm_run returns 0, no FINISH callback: "paused=1");
 * - the length cap is the runtime's own: RKLLMInferParam.max_new_tokens (1.3, when > 0), else
 *   RKLLMParam.max_new_tokens from init (when > 0);
 * - the library carries the version string the runtime logs ("rkllm-runtime version: X"), set
 *   with -DFAKE_RKLLM_VERSION=\"1.2.0\" (default: 1.3.0 / 1.2.3 by ABI); -DFAKE_RKLLM_NO_VERSION
 *   leaves it out;
 * - every parameter received is recorded as "key=value" lines, read with fake_record();
 * - in a process of its own, FAKE_RKLLM_PLANT ('|'-separated) and FAKE_RKLLM_DELAY_US plant.
 */
#include "rkllm_stub.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef FAKE_RKLLM_VERSION
#if RKLLM_ABI == 13
#define FAKE_RKLLM_VERSION "1.3.0"
#else
#define FAKE_RKLLM_VERSION "1.2.3"
#endif
#endif
#ifndef FAKE_RKLLM_NO_VERSION
__attribute__((used)) const char fake_version[] =
    "rkllm-runtime version: " FAKE_RKLLM_VERSION ", rknpu driver version: 0.9.8, platform: RK3588";
#endif

static char record_buf[65536];
static size_t record_len;
static char planted[16384] = "Hello\n world";
static int delay_us;
static volatile int abort_flag;
static int abort_calls;
static int abort_in_callback;
static volatile int in_callback;
static int init_max_new_tokens;
static int running;
static LLMResultCallback result_cb;
static int handle_token;

static void rec(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(record_buf + record_len, sizeof record_buf - record_len, fmt, ap);
    va_end(ap);
    if (n > 0 && record_len + (size_t)n < sizeof record_buf) record_len += (size_t)n;
}

/* key=value with the value's newlines and backslashes escaped, so one value stays one line */
static void rec_str(const char *key, const char *value) {
    rec("%s=", key);
    for (const char *c = value ? value : "(null)"; *c; c++) {
        if (*c == '\n') rec("\\n");
        else if (*c == '\\') rec("\\\\");
        else rec("%c", *c);
    }
    rec("\n");
}

const char *fake_record(void) { return record_buf; }
void fake_reset(void) { record_len = 0; record_buf[0] = 0; abort_calls = 0; abort_in_callback = 0; }
void fake_plant(const char *tokens, int per_token_delay_us) {
    snprintf(planted, sizeof planted, "%s", tokens);
    delay_us = per_token_delay_us;
}
int fake_abort_calls(void) { return abort_calls; }
int fake_abort_in_callback(void) { return abort_in_callback; }

RKLLMParam rkllm_createDefaultParam(void) {
    RKLLMParam p;
    memset(&p, 0, sizeof p);
    p.max_context_len = 512;
    p.max_new_tokens = -1;
    p.top_k = 40;
    p.top_p = 0.9f;
    p.temperature = 0.8f;
    p.repeat_penalty = 1.1f;
    p.extend_param.n_batch = 1;
    return p;
}

static void record_param(const RKLLMParam *p) {
    rec("model_path=%s\n", p->model_path);
    rec("max_context_len=%d\nmax_new_tokens=%d\ntop_k=%d\nn_keep=%d\n", p->max_context_len,
        p->max_new_tokens, p->top_k, p->n_keep);
    rec("top_p=%.3f\ntemperature=%.3f\nrepeat_penalty=%.3f\n", p->top_p, p->temperature,
        p->repeat_penalty);
    rec("skip_special_token=%d\nis_async=%d\n", p->skip_special_token, p->is_async);
    rec("embed_flash=%d\nenabled_cpus_num=%d\nenabled_cpus_mask=0x%x\nn_batch=%d\n",
        p->extend_param.embed_flash, p->extend_param.enabled_cpus_num,
        p->extend_param.enabled_cpus_mask, p->extend_param.n_batch);
}

#if RKLLM_ABI == 13
int rkllm_init(LLMHandle *handle, RKLLMParam *param, RKLLMCallback *callback) {
    if (!callback || !callback->result_callback) return -1;
    result_cb = callback->result_callback;
    rec("init_abi=13\n");
#else
int rkllm_init(LLMHandle *handle, RKLLMParam *param, LLMResultCallback callback) {
    if (!callback) return -1;
    result_cb = callback;
    rec("init_abi=12\n");
#endif
    record_param(param);
    init_max_new_tokens = param->max_new_tokens;
    /* A process of its own (the worker under the supervisor) is planted through the env. */
    const char *env_plant = getenv("FAKE_RKLLM_PLANT");
    if (env_plant) {
        snprintf(planted, sizeof planted, "%s", env_plant);
        for (char *c = planted; *c; c++)
            if (*c == '|') *c = '\n';
        const char *env_delay = getenv("FAKE_RKLLM_DELAY_US");
        delay_us = env_delay ? atoi(env_delay) : 0;
    }
    *handle = &handle_token;
    return 0;
}

int rkllm_set_chat_template(LLMHandle h, const char *sys, const char *prefix, const char *postfix) {
    if (h != &handle_token) return -1;
    rec_str("template_system", sys);
    rec_str("template_prefix", prefix);
    rec_str("template_postfix", postfix);
    return 0;
}

int rkllm_set_function_tools(LLMHandle h, const char *sys, const char *tools, const char *resp) {
    if (h != &handle_token) return -1;
    rec_str("tools_system", sys);
    rec_str("tools", tools);
    rec_str("tool_response", resp);
    return 0;
}

static int emit(RKLLMResult *r, const char *text, LLMCallState state, void *userdata) {
    r->text = text;
    in_callback = 1;
    int ret = result_cb(r, userdata, state);
    in_callback = 0;
    return ret;
}

int rkllm_run(LLMHandle h, RKLLMInput *in, RKLLMInferParam *infer, void *userdata) {
    if (h != &handle_token) return -1;
    rec_str("role", in->role);
    rec("enable_thinking=%d\ninput_type=%d\n", in->enable_thinking, in->input_type);
    rec_str("prompt", in->prompt_input);
    rec("mode=%d\nkeep_history=%d\n", infer->mode, infer->keep_history);
#if RKLLM_ABI == 13
    rec("run_max_new_tokens=%d\n", infer->max_new_tokens);
    if (infer->sampling_params)
        rec("run_temperature=%.3f\nrun_top_k=%d\n", infer->sampling_params->temperature,
            infer->sampling_params->top_k);
#endif
    int cap = init_max_new_tokens;
#if RKLLM_ABI == 13
    if (infer->max_new_tokens > 0) cap = infer->max_new_tokens;
#endif
    abort_flag = 0;
    running = 1;
    RKLLMResult r;
    memset(&r, 0, sizeof r);
    char *copy = strdup(planted);
    int sent = 0;
    for (char *save = NULL, *tok = strtok_r(copy, "\n", &save); tok; tok = strtok_r(NULL, "\n", &save)) {
        if (abort_flag) break;
        if (cap > 0 && sent >= cap) break;
        if (delay_us) usleep((useconds_t)delay_us);
        if (strcmp(tok, "~ERROR") == 0) {
            emit(&r, NULL, RKLLM_RUN_ERROR, userdata);
            free(copy);
            running = 0;
            rec("sent=%d\naborted=%d\n", sent, abort_flag);
            return -1;
        }
        if (strcmp(tok, "~WAIT") == 0) {
            emit(&r, "\xe4\xbd", RKLLM_RUN_WAITING, userdata);  /* half of a UTF-8 character */
            continue;
        }
        r.token_id = sent++;
        if (emit(&r, tok, RKLLM_RUN_NORMAL, userdata) == 1) {  /* pause: the run stops here */
            free(copy);
            running = 0;
            rec("sent=%d\naborted=%d\npaused=1\n", sent, abort_flag);
            return 0;
        }
    }
    free(copy);
    r.perf.prefill_time_ms = 12.5f;
    r.perf.prefill_tokens = 7;
    r.perf.generate_time_ms = 40.0f;
    r.perf.generate_tokens = sent;
    r.perf.memory_usage_mb = 321.0f;
    emit(&r, NULL, RKLLM_RUN_FINISH, userdata);
    rec("sent=%d\naborted=%d\n", sent, abort_flag);
    running = 0;
    return 0;
}

int rkllm_abort(LLMHandle h) {
    if (h != &handle_token) return -1;
    abort_flag = 1;
    abort_calls++;
    if (in_callback) abort_in_callback++;
    return 0;
}

int rkllm_is_running(LLMHandle h) { (void)h; return running; }

int rkllm_clear_kv_cache(LLMHandle h, int keep, int *start, int *end) {
    if (h != &handle_token) return -1;
    /* NULL, NULL = clear all; a range is only valid after a pause (rkllm.h) */
    rec("clear_kv_cache=%d\nclear_range=%s\n", keep, (start || end) ? "given" : "null");
    return 0;
}

int rkllm_destroy(LLMHandle h) {
    if (h != &handle_token) return -1;
    rec("destroyed=1\n");
    return 0;
}
