/* SPDX-License-Identifier: MIT */
/*
 * The whole forward pass through the Level Zero backend on the software
 * GPU: the fixture's reference (f32: every logit within 1e-3, router
 * top-2 equal everywhere, greedy ids equal), gating through a gpu-class
 * arbiter client, and the failure paths (no driver, a broken kernel
 * module) ending in one clear error.
 *
 * usage: ze_backend_test MODEL_DIR KERNEL_DIR
 *        ze_backend_test --create KERNEL_DIR   (create only; prints the error)
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arbiter/arbiter.h"
#include "ze/drm_devices.h"
#include "tests/eval/eval_reference.h"
#include "engine/inference.h"
#include "model/model.h"
#include "ze/ze_backend.h"
#include "tap.h"

static int create_only(const char *kdir)
{
	struct sm_ze_backend_opts o = { .compute = SM_BACKEND_F32, .kernel_dir = kdir };
	struct sm_backend *be = NULL;
	char err[512] = "";
	int rc = sm_ze_backend_create(&o, &be, err, sizeof(err));

	if (rc) {
		fprintf(stderr, "%s\n", err);
		return -rc;
	}
	be->ops->destroy(be);
	printf("created\n");
	return 0;
}

/* Runs self --create KDIR with the environment change; returns its exit
 * status and first output line. */
static int run_create(const char *self, const char *kdir, const char *env_k, const char *env_v,
		      char *line, size_t len)
{
	int fds[2], st = 0;
	pid_t pid;
	ssize_t n = 0;
	char buf[2048];

	if (pipe(fds))
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		close(fds[0]);
		if (env_k)
			setenv(env_k, env_v, 1);
		execl(self, self, "--create", kdir, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	for (ssize_t r; (r = read(fds[0], buf + n, sizeof(buf) - 1 - (size_t)n)) > 0;)
		n += r;
	buf[n] = '\0';
	close(fds[0]);
	waitpid(pid, &st, 0);
	snprintf(line, len, "%.*s", (int)strcspn(buf, "\n"), buf);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static int copy_file(const char *from, const char *to)
{
	char buf[65536];
	FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
	size_t n;
	int rc = a && b ? 0 : -1;

	while (!rc && (n = fread(buf, 1, sizeof(buf), a)) > 0)
		if (fwrite(buf, 1, n, b) != n)
			rc = -1;
	if (a)
		fclose(a);
	if (b && fclose(b))
		rc = -1;
	return rc;
}

int main(int argc, char **argv)
{
	static const char *const mods[] = { "matmul", "expert_ffn", "router", "scatter_gather",
					     "layernorm", "rope", "attention", "elementwise" };
	struct sm_ze_backend_opts zo = { .compute = SM_BACKEND_F32 };
	struct sm_backend *be = NULL;
	struct eval_opts eo = { .compute = SM_COMPUTE_F32 };
	struct eval_result *res = calloc(1, sizeof(*res));
	struct sm_arbiter *arb = NULL;
	struct sm_arb_client *cl = NULL;
	struct sm_arbiter_opts ao = { .kind = SM_ARB_PROCESS };
	struct sm_arb_client_opts co = { .name = "splitmoe-gpu", .class = SM_ARB_CLASS_GPU,
					 .weight = 100, .reserve_mbps = 1000,
					 .burst_bytes = 64ull << 20 };
	struct sm_arb_client_stats cs;
	struct sm_ze_profile prof;
	char err[512] = "", ref[4200], line[1024], tmpd[] = "/tmp/ze_backend_test-XXXXXX";
	int rc;

	if (argc == 3 && !strcmp(argv[1], "--create"))
		return create_only(argv[2]);
	if (argc != 3 || !res) {
		fprintf(stderr, "usage: %s MODEL_DIR KERNEL_DIR\n", argv[0]);
		return 2;
	}
	zo.kernel_dir = argv[2];
	rc = sm_ze_backend_create(&zo, &be, err, sizeof(err));
	tap_result(rc == 0, "Level Zero backend on the software GPU (%s)", rc ? err : "created");
	if (rc)
		return 1;

	rc = sm_arbiter_open(&ao, &arb, err, sizeof(err));
	if (!rc)
		rc = sm_arb_client_open(arb, &co, &cl, err, sizeof(err));
	if (rc)
		printf("# arbiter: %s\n", err);
	be->gate = cl;
	eo.backend = be;
	snprintf(ref, sizeof(ref), "%s/reference.json", argv[1]);
	rc = splitmoe_eval(argv[1], ref, &eo, stdout, res);
	tap_result(rc == 0 && res->pass,
	    "f32 through Level Zero meets the fixture: logits within 1e-3, router top-2, greedy ids "
	    "(%d cases)", res->n_cases);
	for (int i = 0; i < res->n_cases; i++)
		printf("# case %d: max |logit err| %.2e, router %d/%d, greedy %d/%d\n", i,
		       res->cases[i].max_abs_err, res->cases[i].router_agree,
		       res->cases[i].router_total, res->cases[i].greedy_agree, res->cases[i].greedy_n);
	sm_ze_backend_profile(be, &prof);
	if (cl) {
		uint64_t ops = prof.linear_ops + prof.expert_ops + prof.other_ops;

		sm_arb_client_get_stats(cl, &cs);
		tap_result(cs.acquires > 0 && cs.completes == cs.acquires &&
			   cs.completed_bytes == cs.granted_bytes,
		    "every gated submission acquired and completed (%llu acquires, %llu MB)",
		    (unsigned long long)cs.acquires, (unsigned long long)(cs.granted_bytes >> 20));
		/* counted where kernels are appended: none outside a grant, and
		 * one acquire per op whose event signalled */
		tap_result(prof.launches > 0 && prof.gated_launches == prof.launches &&
			   prof.other_ops > 0 && cs.acquires == ops,
		    "every kernel appended under a gpu-client grant (%llu of %llu launches; "
		    "%llu acquires, %llu ops completed)",
		    (unsigned long long)prof.gated_launches, (unsigned long long)prof.launches,
		    (unsigned long long)cs.acquires, (unsigned long long)ops);
	} else {
		tap_result(0, "gpu-class arbiter client");
	}
	/* bf16 compute: weights packed as bf16 (exact for this fixture) */
	{
		struct sm_ze_backend_opts bo = zo;
		struct sm_backend *bbe = NULL;
		struct eval_opts beo = { .compute = SM_COMPUTE_BF16 };

		bo.compute = SM_BACKEND_BF16;
		rc = sm_ze_backend_create(&bo, &bbe, err, sizeof(err));
		if (!rc) {
			beo.backend = bbe;
			rc = splitmoe_eval(argv[1], ref, &beo, NULL, res);
			bbe->ops->destroy(bbe);
		}
		tap_result(rc == 0 && res->pass, "bf16 through Level Zero: top-1 >= 95%%, cosine >= 0.999 "
		    "(%d/%d top-1)", res->top1_agree, res->positions);
	}
	tap_result(prof.linear_ops > 0 && prof.expert_ops > 0 && prof.linear_ns > 0 &&
		   prof.expert_ns > 0 && prof.other_ns > 0,
	    "kernel timestamps profile the ops (linear %.1f ms / %llu, expert %.1f ms / %llu, "
	    "other %.1f ms / %llu)",
	    prof.linear_ns / 1e6, (unsigned long long)prof.linear_ops, prof.expert_ns / 1e6,
	    (unsigned long long)prof.expert_ops, prof.other_ns / 1e6,
	    (unsigned long long)prof.other_ops);
	be->gate = NULL;
	be->ops->destroy(be);
	sm_arb_client_close(cl);
	sm_arbiter_close(arb);

	/* splitmoe info's GPU section: the software GPU has no DRM node. */
	{
		char *text = NULL;
		size_t tl = 0;
		FILE *mf = open_memstream(&text, &tl);
		struct sm_drm_device fake[2] = {
			{ .is_pci = true, .pci_bus = 0, .pci_dev = 2, .render_node = "/dev/dri/renderD128" },
			{ .is_pci = true, .pci_bus = 3, .pci_dev = 0, .render_node = "/dev/dri/renderD129" },
		};

		sm_gpu_info_print(mf);
		fclose(mf);
		for (char *l = strtok(text, "\n"); l; l = strtok(NULL, "\n"))
			printf("# info: %s\n", l);
		free(text);
		tl = 0;
		mf = open_memstream(&text, &tl);
		sm_gpu_info_print(mf);
		fclose(mf);
		tap_result(strstr(text, "swgpu software test GPU") && strstr(text, "(integrated)") &&
		    strstr(text, "DRM node: none (not a PCI device)") &&
		    sm_drm_find_pci(fake, 2, 0, 3, 0, 0) == 1 && sm_drm_find_pci(fake, 2, 0, 0, 2, 0) == 0 &&
		    sm_drm_find_pci(fake, 2, 0, 0, 2, 1) == -1,
		    "GPU info lists the Level Zero device, its DRM node (none) and matches by PCI address");
		free(text);
	}

	/* No driver: one clear error, no crash. */
	rc = run_create(argv[0], argv[2], "ZE_ENABLE_ALT_DRIVERS", "/nonexistent/libze_swgpu.so",
			line, sizeof(line));
	printf("# without the driver (exit %d): %s\n", rc, line);
	tap_result(rc == ENODEV && strstr(line, "Level Zero: no driver"),
	    "without a Level Zero driver: -ENODEV and \"Level Zero: no driver\"");

	/* A broken module in a copy of the kernel directory. */
	if (mkdtemp(tmpd)) {
		char from[4400], to[4400];
		FILE *f;
		int ok = 1;

		for (size_t i = 0; i < sizeof(mods) / sizeof(mods[0]); i++) {
			snprintf(from, sizeof(from), "%s/%s.spv", argv[2], mods[i]);
			snprintf(to, sizeof(to), "%s/%s.spv", tmpd, mods[i]);
			ok &= copy_file(from, to) == 0;
		}
		snprintf(to, sizeof(to), "%s/attention.spv", tmpd);
		f = fopen(to, "r+b");
		if (f) {	/* keep the header, wreck the body */
			fseek(f, 40, SEEK_SET);
			fwrite("\xff\xff\xff\xff\xff\xff\xff\xff", 1, 8, f);
			fclose(f);
		}
		rc = run_create(argv[0], tmpd, NULL, NULL, line, sizeof(line));
		printf("# broken module: %.200s\n", line);
		tap_result(ok && rc == EIO && strstr(line, "attention.spv: kernel build failed"),
		    "a broken kernel module: -EIO naming the file with its build log");
		for (size_t i = 0; i < sizeof(mods) / sizeof(mods[0]); i++) {
			snprintf(to, sizeof(to), "%s/%s.spv", tmpd, mods[i]);
			unlink(to);
		}
		rmdir(tmpd);
	} else {
		tap_result(0, "a broken kernel module: mkdtemp");
	}
	free(res);
	return tap_failures() ? 1 : 0;
}
