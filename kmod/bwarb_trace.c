// SPDX-License-Identifier: GPL-2.0
/* Instantiates the bwarb tracepoints declared in bwarb_trace.h. */
#define CREATE_TRACE_POINTS
#include "bwarb_trace.h"
