/* Signal names as image configs write them (StopSignal). */
#include <errno.h>
#include <signal.h>
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
	{ "SYS", SIGSYS },
};

/* A small decimal number (no sign, at most 3 digits), or -1. */
static int small_number(const char *s)
{
	if (!*s || strlen(s) > 3 || strspn(s, "0123456789") != strlen(s))
		return -1;
	return atoi(s);
}

/* "RTMIN", "RTMIN+n", "RTMAX", "RTMAX-n". */
static int realtime(const char *s)
{
	bool min = strncasecmp(s, "RTMIN", 5) == 0, max = strncasecmp(s, "RTMAX", 5) == 0;
	if (!min && !max)
		return -1;
	s += 5;
	if (!*s)
		return min ? SIGRTMIN : SIGRTMAX;
	if (*s != (min ? '+' : '-'))
		return -1;
	int n = small_number(s + 1);
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
