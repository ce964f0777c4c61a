/* SPDX-License-Identifier: MIT */
/*
 * Modules, build logs and kernels. A SPIR-V module is translated back to
 * SPIR 1.2 bitcode by llvm-spirv (-r, run as a child process on temporary
 * files that are removed again) and built by PoCL with "-x spir
 * -spir-std=1.2". Whatever fails on the way (not SPIR-V, the translator,
 * PoCL's compiler) ends up in the build log.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "swgpu.h"

extern char **environ;

#define SPIRV_MAGIC 0x07230203u
#define DEFAULT_LLVM_SPIRV "llvm-spirv-14"

/* ---- build log ---- */

static struct _ze_module_build_log_handle_t *log_new(const char *text)
{
	struct _ze_module_build_log_handle_t *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->magic = SW_MAGIC_BUILDLOG;
	l->text = strdup(text ? text : "");
	if (!l->text) {
		free(l);
		return NULL;
	}
	return l;
}

static ze_result_t ZE_APICALL sw_log_destroy(ze_module_build_log_handle_t l)
{
	if (!l)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	if (l->magic != SW_MAGIC_BUILDLOG)
		return ZE_RESULT_ERROR_INVALID_ARGUMENT;
	l->magic = 0;
	free(l->text);
	free(l);
	return ZE_RESULT_SUCCESS;
}

static ze_result_t ZE_APICALL sw_log_string(ze_module_build_log_handle_t l, size_t *size,
					    char *out)
{
	size_t need;

	if (!l)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	if (!size)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	need = strlen(l->text) + 1;
	if (*size == 0 || !out) {
		*size = need;
		return ZE_RESULT_SUCCESS;
	}
	if (*size < need)
		return ZE_RESULT_ERROR_INVALID_SIZE;
	memcpy(out, l->text, need);
	*size = need;
	return ZE_RESULT_SUCCESS;
}

void sw_fill_build_log(ze_module_build_log_dditable_t *t)
{
	t->pfnDestroy = sw_log_destroy;
	t->pfnGetString = sw_log_string;
}

/* ---- SPIR-V to SPIR bitcode ---- */

/* A growing message buffer for the build log. */
struct msg {
	char *s;
	size_t len;
};

static void msg_add(struct msg *m, const char *fmt, ...)
{
	va_list ap;
	char buf[1024];
	int n;
	char *ns;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	ns = realloc(m->s, m->len + (size_t)n + 1);
	if (!ns)
		return;
	memcpy(ns + m->len, buf, (size_t)n + 1);
	m->s = ns;
	m->len += (size_t)n;
}

static void msg_add_text(struct msg *m, const char *text, size_t n)
{
	char *ns = realloc(m->s, m->len + n + 1);

	if (!ns)
		return;
	memcpy(ns + m->len, text, n);
	ns[m->len + n] = '\0';
	m->s = ns;
	m->len += n;
}

static int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		if (buf) {
			buf[n] = '\0';
			*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

/*
 * Translates spirv[0..n) with llvm-spirv -r into SPIR bitcode (*bc, *bclen).
 * On failure returns a build-failure result with the reason in m.
 */
static ze_result_t spirv_to_bitcode(const uint8_t *spirv, size_t n, char **bc, size_t *bclen,
				    struct msg *m)
{
	const char *tool = getenv("SWGPU_LLVM_SPIRV");
	const char *tmp = getenv("TMPDIR");
	char in[4000], out[4096], errf[4096];
	char *argv[6];
	posix_spawn_file_actions_t fa;
	ze_result_t r = ZE_RESULT_ERROR_MODULE_BUILD_FAILURE;
	int fd, st = 0, rc;
	pid_t pid;
	uint32_t magic;

	*bc = NULL;
	if (n < 20 || n % 4) {
		msg_add(m, "swgpu: input is not SPIR-V (%zu bytes, not a whole number of words)\n", n);
		return r;
	}
	memcpy(&magic, spirv, 4);
	if (magic != SPIRV_MAGIC) {
		msg_add(m, "swgpu: input is not SPIR-V (magic 0x%08x, expected 0x%08x)\n",
			magic, SPIRV_MAGIC);
		return r;
	}
	if (!tool || !*tool)
		tool = DEFAULT_LLVM_SPIRV;
	if (!tmp || !*tmp)
		tmp = "/tmp";
	snprintf(in, sizeof(in), "%s/swgpu-XXXXXX", tmp);
	fd = mkstemp(in);
	if (fd < 0) {
		msg_add(m, "swgpu: cannot create a temporary file in %s: %s\n", tmp, strerror(errno));
		return ZE_RESULT_ERROR_UNKNOWN;
	}
	snprintf(out, sizeof(out), "%s.bc", in);
	snprintf(errf, sizeof(errf), "%s.log", in);
	rc = write_all(fd, spirv, n);
	close(fd);
	if (rc) {
		msg_add(m, "swgpu: cannot write %s: %s\n", in, strerror(-rc));
		r = ZE_RESULT_ERROR_UNKNOWN;
		goto out;
	}
	argv[0] = (char *)tool;
	argv[1] = (char *)"-r";
	argv[2] = in;
	argv[3] = (char *)"-o";
	argv[4] = out;
	argv[5] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, errf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	rc = posix_spawnp(&pid, tool, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc) {
		msg_add(m, "swgpu: cannot run %s: %s\n", tool, strerror(rc));
		r = ZE_RESULT_ERROR_DEPENDENCY_UNAVAILABLE;
		goto out;
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		size_t len = 0;
		char *text = read_file(errf, &len);

		if (WIFEXITED(st))
			msg_add(m, "swgpu: %s -r failed (exit status %d): the module is not valid SPIR-V\n",
				tool, WEXITSTATUS(st));
		else
			msg_add(m, "swgpu: %s -r died (signal %d): the module is not valid SPIR-V\n",
				tool, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
		if (text)
			msg_add_text(m, text, len);
		free(text);
		goto out;
	}
	*bc = read_file(out, bclen);
	if (!*bc) {
		msg_add(m, "swgpu: %s produced no output\n", tool);
		goto out;
	}
	r = ZE_RESULT_SUCCESS;
out:
	unlink(in);
	unlink(out);
	unlink(errf);
	return r;
}

/* Keeps the OpenCL-meaningful options of a Level Zero build-flag string
 * (-D..., -cl-...); the -ze-... ones have no PoCL equivalent. */
static void build_options(const char *flags, char *out, size_t cap)
{
	size_t len;

	/* -cl-kernel-arg-info: the address spaces say how to pass each argument */
	snprintf(out, cap, "-x spir -spir-std=1.2 -cl-kernel-arg-info");
	if (!flags)
		return;
	while (*flags) {
		const char *end;

		while (*flags == ' ')
			flags++;
		end = flags;
		while (*end && *end != ' ')
			end++;
		if (end > flags && (!strncmp(flags, "-D", 2) || !strncmp(flags, "-cl-", 4))) {
			len = strlen(out);
			snprintf(out + len, cap - len, " %.*s", (int)(end - flags), flags);
		}
		flags = end;
	}
}

static ze_result_t ZE_APICALL sw_module_create(ze_context_handle_t c, ze_device_handle_t d,
					       const ze_module_desc_t *desc,
					       ze_module_handle_t *out,
					       ze_module_build_log_handle_t *log_out)
{
	const struct sw_platform *p = sw_platform_get();
	struct msg m = { NULL, 0 };
	struct _ze_module_handle_t *mod = NULL;
	ze_result_t r;
	char *bc = NULL;
	size_t bclen = 0;
	char opts[1024];
	cl_int err, bstatus;
	cl_program prog = NULL;

	if (log_out)
		*log_out = NULL;
	if (!c || !d)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	if (!desc || !out || !desc->pInputModule)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	*out = NULL;
	if (!p)
		return ZE_RESULT_ERROR_UNINITIALIZED;
	if (desc->format != ZE_MODULE_FORMAT_IL_SPIRV) {
		msg_add(&m, "swgpu: only SPIR-V modules are supported\n");
		r = ZE_RESULT_ERROR_INVALID_ENUMERATION;
		goto out;
	}
	r = spirv_to_bitcode(desc->pInputModule, desc->inputSize, &bc, &bclen, &m);
	if (r)
		goto out;
	prog = clCreateProgramWithBinary(p->context, 1, &p->device, &bclen,
					 (const unsigned char **)&bc, &bstatus, &err);
	if (err != CL_SUCCESS) {
		msg_add(&m, "swgpu: PoCL refused the SPIR bitcode (OpenCL error %d)\n", err);
		r = ZE_RESULT_ERROR_MODULE_BUILD_FAILURE;
		goto out;
	}
	build_options(desc->pBuildFlags, opts, sizeof(opts));
	err = clBuildProgram(prog, 1, &p->device, opts, NULL, NULL);
	{
		size_t n = 0;
		char *text;

		clGetProgramBuildInfo(prog, p->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &n);
		text = n ? malloc(n + 1) : NULL;
		if (text && clGetProgramBuildInfo(prog, p->device, CL_PROGRAM_BUILD_LOG, n,
						  text, NULL) == CL_SUCCESS) {
			text[n] = '\0';
			msg_add_text(&m, text, strlen(text));
		}
		free(text);
	}
	if (err != CL_SUCCESS) {
		msg_add(&m, "swgpu: PoCL build failed (OpenCL error %d)\n", err);
		r = ZE_RESULT_ERROR_MODULE_BUILD_FAILURE;
		goto out;
	}
	mod = calloc(1, sizeof(*mod));
	if (!mod) {
		r = ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY;
		goto out;
	}
	mod->magic = SW_MAGIC_MODULE;
	mod->program = prog;
	prog = NULL;
	*out = mod;
	r = ZE_RESULT_SUCCESS;
out:
	if (prog)
		clReleaseProgram(prog);
	free(bc);
	if (log_out)
		*log_out = log_new(m.s);
	free(m.s);
	return r;
}

static ze_result_t ZE_APICALL sw_module_destroy(ze_module_handle_t mod)
{
	if (!mod)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	if (mod->magic != SW_MAGIC_MODULE)
		return ZE_RESULT_ERROR_INVALID_ARGUMENT;
	mod->magic = 0;
	clReleaseProgram(mod->program);
	free(mod);
	return ZE_RESULT_SUCCESS;
}

/* Names separated by ';' as OpenCL reports them. */
static ze_result_t ZE_APICALL sw_module_kernel_names(ze_module_handle_t mod, uint32_t *count,
						     const char **names)
{
	static __thread char buf[8192];	/* names stay valid until the next call */
	uint32_t n = 0;
	char *save = NULL;

	if (!mod)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	if (!count)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	if (clGetProgramInfo(mod->program, CL_PROGRAM_KERNEL_NAMES, sizeof(buf) - 1, buf,
			     NULL) != CL_SUCCESS)
		return ZE_RESULT_ERROR_UNKNOWN;
	for (char *t = strtok_r(buf, ";", &save); t; t = strtok_r(NULL, ";", &save)) {
		if (names && n < *count)
			names[n] = t;
		n++;
	}
	if (!names || *count == 0 || *count > n)
		*count = n;
	return ZE_RESULT_SUCCESS;
}

static ze_result_t ZE_APICALL sw_module_properties(ze_module_handle_t mod,
						   ze_module_properties_t *p)
{
	if (!mod)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	if (!p)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	p->flags = 0;
	return ZE_RESULT_SUCCESS;
}

void sw_fill_module(ze_module_dditable_t *t)
{
	t->pfnCreate = sw_module_create;
	t->pfnDestroy = sw_module_destroy;
	t->pfnGetKernelNames = sw_module_kernel_names;
	t->pfnGetProperties = sw_module_properties;
}

/* ---- kernels ---- */

static ze_result_t ZE_APICALL sw_kernel_create(ze_module_handle_t mod,
					       const ze_kernel_desc_t *desc,
					       ze_kernel_handle_t *out)
{
	struct _ze_kernel_handle_t *k;
	cl_int err;

	if (!mod)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	if (!desc || !out || !desc->pKernelName)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	if (mod->magic != SW_MAGIC_MODULE)
		return ZE_RESULT_ERROR_INVALID_ARGUMENT;
	*out = NULL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY;
	k->kernel = clCreateKernel(mod->program, desc->pKernelName, &err);
	if (err != CL_SUCCESS) {
		free(k);
		return err == CL_INVALID_KERNEL_NAME ? ZE_RESULT_ERROR_INVALID_KERNEL_NAME
						     : sw_cl_result(err);
	}
	k->magic = SW_MAGIC_KERNEL;
	k->module = mod;
	snprintf(k->name, sizeof(k->name), "%s", desc->pKernelName);
	pthread_mutex_init(&k->mu, NULL);
	clGetKernelInfo(k->kernel, CL_KERNEL_NUM_ARGS, sizeof(k->nargs), &k->nargs, NULL);
	clGetKernelWorkGroupInfo(k->kernel, sw_platform_get()->device,
				 CL_KERNEL_COMPILE_WORK_GROUP_SIZE, sizeof(k->reqd), k->reqd, NULL);
	for (int i = 0; i < 3; i++)
		k->group[i] = k->reqd[0] ? (uint32_t)k->reqd[i] : 1;
	k->args = calloc(k->nargs ? k->nargs : 1, sizeof(*k->args));
	if (!k->args) {
		clReleaseKernel(k->kernel);
		free(k);
		return ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY;
	}
	/* SPIR carries the address space of every argument, which says how
	 * a Level Zero argument value is to be passed. */
	for (uint32_t i = 0; i < k->nargs; i++) {
		cl_kernel_arg_address_qualifier q = CL_KERNEL_ARG_ADDRESS_PRIVATE;

		err = clGetKernelArgInfo(k->kernel, i, CL_KERNEL_ARG_ADDRESS_QUALIFIER, sizeof(q),
					 &q, NULL);
		if (err != CL_SUCCESS) {
			clReleaseKernel(k->kernel);
			free(k->args);
			free(k);
			return ZE_RESULT_ERROR_UNKNOWN;
		}
		k->args[i].kind = q == CL_KERNEL_ARG_ADDRESS_LOCAL ? SW_ARG_LOCAL :
			(q == CL_KERNEL_ARG_ADDRESS_GLOBAL || q == CL_KERNEL_ARG_ADDRESS_CONSTANT) ?
			SW_ARG_POINTER : SW_ARG_VALUE;
	}
	*out = k;
	return ZE_RESULT_SUCCESS;
}

static ze_result_t ZE_APICALL sw_kernel_destroy(ze_kernel_handle_t k)
{
	if (!k)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	if (k->magic != SW_MAGIC_KERNEL)
		return ZE_RESULT_ERROR_INVALID_ARGUMENT;
	k->magic = 0;
	clReleaseKernel(k->kernel);
	pthread_mutex_destroy(&k->mu);
	free(k->args);
	free(k);
	return ZE_RESULT_SUCCESS;
}

static cl_int apply_arg(cl_kernel k, uint32_t i, const struct sw_arg *a)
{
	void *ptr;

	switch (a->kind) {
	case SW_ARG_POINTER:
		memcpy(&ptr, a->value, sizeof(ptr));
		return clSetKernelArgSVMPointer(k, i, ptr);
	case SW_ARG_LOCAL:
		return clSetKernelArg(k, i, a->size, NULL);
	default:
		return clSetKernelArg(k, i, a->size, a->value);
	}
}

/* Caller holds k->mu. */
ze_result_t sw_kernel_apply_args(struct _ze_kernel_handle_t *k, const struct sw_arg *args)
{
	for (uint32_t i = 0; i < k->nargs; i++) {
		cl_int err;

		if (!args[i].set)
			return ZE_RESULT_ERROR_INVALID_KERNEL_ARGUMENT_INDEX;
		err = apply_arg(k->kernel, i, &args[i]);
		if (err != CL_SUCCESS)
			return sw_cl_result(err);
	}
	return ZE_RESULT_SUCCESS;
}

static ze_result_t ZE_APICALL sw_kernel_set_arg(ze_kernel_handle_t k, uint32_t idx, size_t size,
						const void *value)
{
	struct sw_arg a;
	cl_int err;

	if (!k)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	if (idx >= k->nargs)
		return ZE_RESULT_ERROR_INVALID_KERNEL_ARGUMENT_INDEX;
	a = k->args[idx];
	a.size = size;
	memset(a.value, 0, sizeof(a.value));
	if (a.kind == SW_ARG_POINTER) {
		if (size != sizeof(void *))
			return ZE_RESULT_ERROR_INVALID_KERNEL_ARGUMENT_SIZE;
		if (value)	/* NULL value: a null pointer */
			memcpy(a.value, value, sizeof(void *));
	} else if (a.kind == SW_ARG_VALUE) {
		if (!value)
			return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
		if (size > SW_ARG_MAX_BYTES)
			return ZE_RESULT_ERROR_INVALID_KERNEL_ARGUMENT_SIZE;
		memcpy(a.value, value, size);
	}
	/* Set it now as well, so that a bad size is reported here. */
	pthread_mutex_lock(&k->mu);
	err = apply_arg(k->kernel, idx, &a);
	if (err == CL_SUCCESS) {
		a.set = true;
		k->args[idx] = a;
	}
	pthread_mutex_unlock(&k->mu);
	return err == CL_INVALID_ARG_SIZE ? ZE_RESULT_ERROR_INVALID_KERNEL_ARGUMENT_SIZE :
		sw_cl_result(err);
}

static ze_result_t ZE_APICALL sw_kernel_set_group_size(ze_kernel_handle_t k, uint32_t x,
						       uint32_t y, uint32_t z)
{
	const struct sw_platform *p = sw_platform_get();

	if (!k)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	if (!x || !y || !z || (uint64_t)x * y * z > p->max_wg)
		return ZE_RESULT_ERROR_INVALID_GROUP_SIZE_DIMENSION;
	if (k->reqd[0] && (x != k->reqd[0] || y != k->reqd[1] || z != k->reqd[2]))
		return ZE_RESULT_ERROR_INVALID_GROUP_SIZE_DIMENSION;
	k->group[0] = x;
	k->group[1] = y;
	k->group[2] = z;
	return ZE_RESULT_SUCCESS;
}

/* The largest divisor of n not above lim. */
static uint32_t divisor_upto(uint32_t n, uint32_t lim)
{
	for (uint32_t d = lim; d > 1; d--)
		if (n % d == 0)
			return d;
	return 1;
}

static ze_result_t ZE_APICALL sw_kernel_suggest_group_size(ze_kernel_handle_t k, uint32_t gx,
							   uint32_t gy, uint32_t gz,
							   uint32_t *x, uint32_t *y, uint32_t *z)
{
	if (!k)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	if (!x || !y || !z)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	if (k->reqd[0]) {
		*x = (uint32_t)k->reqd[0];
		*y = (uint32_t)k->reqd[1];
		*z = (uint32_t)k->reqd[2];
		return ZE_RESULT_SUCCESS;
	}
	*x = divisor_upto(gx ? gx : 1, 64);
	*y = divisor_upto(gy ? gy : 1, 64 / *x);
	*z = divisor_upto(gz ? gz : 1, 64 / (*x * *y));
	return ZE_RESULT_SUCCESS;
}

static ze_result_t ZE_APICALL sw_kernel_properties(ze_kernel_handle_t k,
						   ze_kernel_properties_t *p)
{
	cl_ulong local = 0, priv = 0;
	const struct sw_platform *plat = sw_platform_get();

	if (!k)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	if (!p)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	clGetKernelWorkGroupInfo(k->kernel, plat->device, CL_KERNEL_LOCAL_MEM_SIZE,
				 sizeof(local), &local, NULL);
	clGetKernelWorkGroupInfo(k->kernel, plat->device, CL_KERNEL_PRIVATE_MEM_SIZE,
				 sizeof(priv), &priv, NULL);
	p->numKernelArgs = k->nargs;
	p->requiredGroupSizeX = (uint32_t)k->reqd[0];
	p->requiredGroupSizeY = (uint32_t)k->reqd[1];
	p->requiredGroupSizeZ = (uint32_t)k->reqd[2];
	p->requiredNumSubGroups = 0;
	p->requiredSubgroupSize = 0;
	p->maxSubgroupSize = 1;
	p->maxNumSubgroups = (uint32_t)plat->max_wg;
	p->localMemSize = (uint32_t)local;
	p->privateMemSize = (uint32_t)priv;
	p->spillMemSize = 0;
	memset(&p->uuid, 0, sizeof(p->uuid));
	return ZE_RESULT_SUCCESS;
}

static ze_result_t ZE_APICALL sw_kernel_name(ze_kernel_handle_t k, size_t *size, char *name)
{
	size_t need;

	if (!k)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	if (!size)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	need = strlen(k->name) + 1;
	if (*size == 0 || !name) {
		*size = need;
		return ZE_RESULT_SUCCESS;
	}
	if (*size < need)
		return ZE_RESULT_ERROR_INVALID_SIZE;
	memcpy(name, k->name, need);
	return ZE_RESULT_SUCCESS;
}

/* Accepted and ignored: every allocation is reachable from every kernel,
 * and there is no cache to configure. */
static ze_result_t ZE_APICALL sw_kernel_indirect(ze_kernel_handle_t k,
						 ze_kernel_indirect_access_flags_t f)
{
	(void)f;
	return k ? ZE_RESULT_SUCCESS : ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
}

static ze_result_t ZE_APICALL sw_kernel_cache_config(ze_kernel_handle_t k,
						     ze_cache_config_flags_t f)
{
	(void)f;
	return k ? ZE_RESULT_SUCCESS : ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
}

void sw_fill_kernel(ze_kernel_dditable_t *t)
{
	t->pfnCreate = sw_kernel_create;
	t->pfnDestroy = sw_kernel_destroy;
	t->pfnSetArgumentValue = sw_kernel_set_arg;
	t->pfnSetGroupSize = sw_kernel_set_group_size;
	t->pfnSuggestGroupSize = sw_kernel_suggest_group_size;
	t->pfnGetProperties = sw_kernel_properties;
	t->pfnGetName = sw_kernel_name;
	t->pfnSetIndirectAccess = sw_kernel_indirect;
	t->pfnSetCacheConfig = sw_kernel_cache_config;
}
