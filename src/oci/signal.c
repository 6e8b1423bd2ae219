/* Signal names as image configs (StopSignal) and CRI's Signal enum write
 * them. Realtime signals count from this process's SIGRTMIN (34 with
 * glibc), as runc, containerd and moby do. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/base.h"
#include "oci/oci.h"

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{ "HUP", SIGHUP },	 { "INT", SIGINT },   { "QUIT", SIGQUIT },     { "ILL", SIGILL },
	{ "TRAP", SIGTRAP },	 { "ABRT", SIGABRT }, { "IOT", SIGIOT },       { "BUS", SIGBUS },
	{ "FPE", SIGFPE },	 { "KILL", SIGKILL }, { "USR1", SIGUSR1 },     { "SEGV", SIGSEGV },
	{ "USR2", SIGUSR2 },	 { "PIPE", SIGPIPE }, { "ALRM", SIGALRM },     { "TERM", SIGTERM },
	{ "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD }, { "CONT", SIGCONT },     { "STOP", SIGSTOP },
	{ "TSTP", SIGTSTP },	 { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU },     { "URG", SIGURG },
	{ "XCPU", SIGXCPU },	 { "XFSZ", SIGXFSZ }, { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },
	{ "WINCH", SIGWINCH },	 { "IO", SIGIO },     { "POLL", SIGPOLL },     { "PWR", SIGPWR },
	{ "SYS", SIGSYS },	 { "CLD", SIGCHLD },
};

/* A decimal number of at most 3 digits, or -1. */
static int small_number(const char *s)
{
	uint64_t v;
	return str_to_u64(s, 10, 999, &v) == 0 ? (int)v : -1;
}

/* `s` starts with `word` (any case): what follows, else NULL. */
static const char *after(const char *s, const char *word)
{
	size_t n = strlen(word);
	return strncasecmp(s, word, n) == 0 ? s + n : NULL;
}

/* "RTMIN", "RTMIN+n", "RTMAX", "RTMAX-n", and CRI's "RTMINPLUSn",
 * "RTMAXMINUSn". */
static int realtime(const char *s)
{
	const char *rest = after(s, "RTMIN");
	bool min = rest != NULL;
	if (!rest && !(rest = after(s, "RTMAX")))
		return -1;
	if (!*rest)
		return min ? SIGRTMIN : SIGRTMAX;
	const char *num = after(rest, min ? "+" : "-");
	if (!num)
		num = after(rest, min ? "PLUS" : "MINUS");
	int n = num ? small_number(num) : -1;
	int sig = n < 0 ? -1 : min ? SIGRTMIN + n : SIGRTMAX - n;
	return sig >= SIGRTMIN && sig <= SIGRTMAX ? sig : -1;
}

int oci_signal_parse(const char *s, struct err *err)
{
	if (str_empty(s))
		return SIGTERM;
	int n = small_number(s);
	if (n > 0 && n <= SIGRTMAX)
		return n;
	const char *name = strncasecmp(s, "SIG", 3) == 0 ? s + 3 : s;
	for (size_t i = 0; i < ARRAY_SIZE(signals); i++)
		if (strcasecmp(signals[i].name, name) == 0)
			return signals[i].sig;
	n = realtime(name);
	if (n > 0)
		return n;
	return err_msg(err, -EINVAL, "unknown signal '%s' (use a name like SIGTERM or a number)",
		       s);
}

const char *oci_signal_name(int sig, char buf[OCI_SIGNAL_NAME_MAX])
{
	for (size_t i = 0; i < ARRAY_SIZE(signals); i++) {
		if (signals[i].sig == sig) {
			snprintf(buf, OCI_SIGNAL_NAME_MAX, "SIG%s", signals[i].name);
			return buf;
		}
	}
	int min = SIGRTMIN, max = SIGRTMAX;
	if (sig < min || sig > max)
		snprintf(buf, OCI_SIGNAL_NAME_MAX, "%d", sig);
	else if (sig == min)
		snprintf(buf, OCI_SIGNAL_NAME_MAX, "SIGRTMIN");
	else if (sig == max)
		snprintf(buf, OCI_SIGNAL_NAME_MAX, "SIGRTMAX");
	else if (sig - min <= 15)
		snprintf(buf, OCI_SIGNAL_NAME_MAX, "SIGRTMIN+%d", sig - min);
	else
		snprintf(buf, OCI_SIGNAL_NAME_MAX, "SIGRTMAX-%d", max - sig);
	return buf;
}
