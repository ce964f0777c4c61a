// SPDX-License-Identifier: MIT
#include "cli.h"
int cmd_bench(struct cli_opts *o) { (void)o; return 1; }
