# bash completion for ocic(1), installed as <completionsdir>/ocic.
# Commands and flags come from ocic's own --help, so they never go stale;
# --id, --pod and image references from the running daemon (first column of
# the list tables), with a short timeout when it does not answer.
# shellcheck disable=SC2207 # COMPREPLY=($(compgen ...)): words are split on purpose

# The words of the --help section $2 ("Commands:" or "Flags:") of "ocic $1 --help":
# a command's name, a flag line's leading flags (not those its text names).
_ocic_help_words()
{
	local cmd=$1 section=$2
	# shellcheck disable=SC2086
	"${COMP_WORDS[0]}" $cmd --help 2>/dev/null | awk -v s="$section" '
		$0 == s { on = 1; next }
		on && /^$/ { exit }
		on && s == "Commands:" { print $1 }
		on && s == "Flags:" { for (i = 1; i <= NF && $i ~ /^-/; i++) { sub(/,$/, "", $i); print $i } }'
}

# First column of "ocic $* list", header skipped.
_ocic_ids()
{
	"${COMP_WORDS[0]}" "${_ocic_global[@]}" --timeout 2s "$@" list 2>/dev/null |
		awk 'NR > 1 { print $1 }'
}

_ocic()
{
	local cur prev words=() i group="" cmd=""
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	_ocic_global=()
	# The command words so far, and the global --socket to ask the same daemon.
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		--socket) _ocic_global=(--socket "${COMP_WORDS[i + 1]}"); ((i++)) ;;
		-o | --output | --timeout) ((i++)) ;;
		-*) ;;
		*) words+=("${COMP_WORDS[i]}") ;;
		esac
	done
	group=${words[0]:-}
	cmd=${words[1]:-}

	case $prev in
	--socket | --config | --pod-config)
		COMPREPLY=($(compgen -f -- "$cur"))
		compopt -o filenames 2>/dev/null
		return ;;
	-o | --output)
		COMPREPLY=($(compgen -W "table json" -- "$cur"))
		return ;;
	--state | -s) # -s is also --sync of ctr exec, which takes no value
		if [ "$group $cmd" = "pod list" ]; then
			COMPREPLY=($(compgen -W "ready notready" -- "$cur"))
			return
		elif [ "$group $cmd" = "ctr list" ]; then
			COMPREPLY=($(compgen -W "created running exited unknown" -- "$cur"))
			return
		fi ;;
	--id)
		COMPREPLY=($(compgen -W "$(_ocic_ids "${group/events/ctr}")" -- "$cur"))
		return ;;
	-p | --pod)
		COMPREPLY=($(compgen -W "$(_ocic_ids pod)" -- "$cur"))
		return ;;
	--timeout | --tail | --creds | --tag | -l | --label | -m | --memory | -u | --unified | \
		--cpu-* | --cpuset-* | --memory-swap | --oom-score-adj | -r | --runtime)
		return ;;
	esac

	if [[ $cur == -* ]]; then
		# A command's help lists its own flags; the global ones hold anywhere.
		COMPREPLY=($(compgen -W "$(_ocic_help_words "$group $cmd" Flags: |
			cat - ${group:+<(printf '%s\n' --socket --output --timeout --help)} | sort -u)" -- "$cur"))
		return
	fi
	if [ -z "$group" ]; then
		COMPREPLY=($(compgen -W "$(_ocic_help_words "" Commands:)" -- "$cur"))
	elif [ -z "$cmd" ] && [[ $group == pod || $group == ctr || $group == image ]]; then
		COMPREPLY=($(compgen -W "$(_ocic_help_words "$group" Commands:)" -- "$cur"))
	elif [ -z "$cmd" ] && [[ $group == inspect || $group == pause || $group == unpause ]]; then
		COMPREPLY=($(compgen -W "$(_ocic_ids ctr)" -- "$cur"))
	elif [ "$group" = image ] && [ "$cmd" = import ]; then
		COMPREPLY=($(compgen -f -- "$cur"))
		compopt -o filenames 2>/dev/null
	elif [ "$group" = image ] && [[ $cmd == status || $cmd == remove ]]; then
		COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" "${_ocic_global[@]}" --timeout 2s image list 2>/dev/null |
			awk 'NR > 1 { print ($2 == "<none>" ? $3 : $1 ":" $2) }')" -- "$cur"))
	fi
}

complete -F _ocic ocic
