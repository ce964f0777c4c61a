// SPDX-License-Identifier: MIT
/* The signals that stop synth and quantize, and their progress lines
 * (out_dir.h). */
#include "out_dir.h"

#include <string.h>
#include <time.h>

static volatile sig_atomic_t stop_flag;
static const int sigs[3] = { SIGINT, SIGTERM, SIGHUP };

static void on_signal(int sig)
{
	stop_flag = sig;
}

int out_dir_stopped(void)
{
	return stop_flag;
}

void out_dir_catch(struct out_dir_signals *s)
{
	struct sigaction sa;

	stop_flag = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < 3; i++)
		sigaction(sigs[i], &sa, &s->old[i]);
	s->caught = true;
}

void out_dir_release(struct out_dir_signals *s)
{
	for (int i = 0; s->caught && i < 3; i++)
		sigaction(sigs[i], &s->old[i], NULL);
	s->caught = false;
}

uint64_t out_dir_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool out_dir_progress_due(uint64_t *last_ns, bool tty, bool force)
{
	uint64_t t = out_dir_now_ns();

	if (!force && t - *last_ns < (tty ? 200000000ull : 2000000000ull))
		return false;
	*last_ns = t;
	return true;
}
