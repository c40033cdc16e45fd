# Sourced by the Windows lane scripts: makes a wine prefix that runs Go
# Windows binaries, and exports WINEPREFIX, WINEDEBUG, WINEDLLOVERRIDES and
# WINE_CACHE. Idempotent and cached per machine: packages are installed only
# when missing, the prefix and the ProcessPrng shim are built once (again
# when the shim's source changes).
#   LICENSEDESK_WINE_CACHE   where the prefix lives (~/.cache/licensedesk-wine)

WINE_PKGS="gcc-mingw-w64-x86-64 wine64 wine"

# apt_install PKG... installs the packages that are missing (as the
# Makefile's apt_install does).
apt_install() {
	local missing="" p sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
	if [ -n "$missing" ]; then
		echo "Installing system packages:$missing"
		$sudo apt-get update -qq &&
			DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
	fi
}

wine_setup() {
	local root shim stamp sum
	root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	apt_install $WINE_PKGS
	export WINE_CACHE=${LICENSEDESK_WINE_CACHE:-$HOME/.cache/licensedesk-wine}
	export WINEPREFIX=$WINE_CACHE/prefix
	export WINEDEBUG=-all
	# No Mono or Gecko installer dialogs; our ProcessPrng shim before any
	# builtin DLL of that name.
	export WINEDLLOVERRIDES="mscoree=;mshtml=;bcryptprimitives=n,b"
	mkdir -p "$WINE_CACHE"
	if [ ! -f "$WINEPREFIX/system.reg" ]; then
		echo "wine: making the prefix $WINEPREFIX"
		wineboot -i >/dev/null 2>&1 || true
		wineserver -w
		[ -f "$WINEPREFIX/system.reg" ] || { echo "wine: wineboot made no prefix" >&2; return 1; }
	fi
	shim=$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll
	stamp=$WINE_CACHE/bcryptprimitives.sum
	sum=$(cat "$root/assets/wine/bcryptprimitives.c" "$root/assets/wine/bcryptprimitives.def" | sha256sum | cut -d' ' -f1)
	if [ ! -f "$shim" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
		echo "wine: building the ProcessPrng shim"
		x86_64-w64-mingw32-gcc -shared -O2 -s -o "$shim" \
			"$root/assets/wine/bcryptprimitives.c" "$root/assets/wine/bcryptprimitives.def" -ladvapi32
		echo "$sum" >"$stamp"
	fi
}
