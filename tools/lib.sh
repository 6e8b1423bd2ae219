# Shared by tools/run-ocid and tools/run-tests (sourced, not executed).
# shellcheck shell=bash

OCID_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# install_deps: apt-get install whatever of tools/deps is missing.
install_deps() {
	local pkgs=() missing=() p
	mapfile -t pkgs < <(grep -v '^\s*#' "$OCID_TOP/tools/deps" | grep -v '^\s*$')
	for p in "${pkgs[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing packages (run as root to install): ${missing[*]}" >&2
		return 1
	fi
	echo ">>> installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q </dev/null
	apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
}

# build_dir <dir> [meson options...]: set up (or reconfigure) and build.
build_dir() {
	local dir=$1
	shift
	if [ -f "$OCID_TOP/$dir/build.ninja" ]; then
		meson configure "$OCID_TOP/$dir" "$@" >/dev/null
	else
		meson setup "$OCID_TOP/$dir" "$OCID_TOP" "$@"
	fi
	ninja -C "$OCID_TOP/$dir"
}
