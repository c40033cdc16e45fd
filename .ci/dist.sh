#!/usr/bin/env bash
# make dist: both installers into dist/.
#   dist/LicenseDesk-<version>-setup.exe   Windows, NSIS (assets/windows/installer.nsi)
#   dist/licensedesk_<version>-<build>_amd64.deb   Debian/Ubuntu, nfpm
# FyneApp.toml is the single source of name, id, version, build number and
# icon. Builds go through the Go build cache (the Windows cgo build takes
# about 4.5 minutes cold, seconds warm).
# Usage: .ci/dist.sh [windows|deb]...   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."
TAGS=${TAGS:-migrated_fynedo,no_emoji} # the Makefile's build tags
root=$PWD
. .ci/wine-env.sh # apt_install

NFPM=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
targets=("$@")
[ ${#targets[@]} = 0 ] && targets=(windows deb)

# toml KEY: the [Details] value of KEY in FyneApp.toml, quotes removed.
toml() {
	awk -F' *= *' -v k="$1" '/^\[/{s=($0=="[Details]")} s && $1==k {gsub(/^"|"$/, "", $2); print $2; exit}' FyneApp.toml
}
NAME=$(toml Name)
APPID=$(toml ID)
VERSION=$(toml Version)
BUILD=$(toml Build)
ICON=$root/$(toml Icon)
for v in NAME APPID VERSION BUILD; do
	[ -n "${!v}" ] || { echo "FyneApp.toml has no $v" >&2; exit 1; }
done
[[ $VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "FyneApp.toml: Version $VERSION is not X.Y.Z" >&2; exit 1; }
VERSION4=$VERSION.$BUILD
COMMA=${VERSION4//./,}
echo "dist: $NAME $VERSION (build $BUILD, $APPID)"

mkdir -p dist build
work=$(mktemp -d)
trap 'rm -rf "$work"; rm -f "$root"/rsrc_windows_amd64.syso' EXIT

windows() {
	apt_install gcc-mingw-w64-x86-64 nsis imagemagick
	local exe=build/windows/licensedesk.exe out=dist/LicenseDesk-$VERSION-setup.exe
	mkdir -p build/windows
	# The icon at the sizes Explorer asks for.
	convert "$ICON" -define icon:auto-resize=256,128,64,48,32,16 "$work/licensedesk.ico"
	# Version, icon and manifest resources, linked in as a .syso beside
	# main.go (go build picks up rsrc_windows_amd64.syso for windows/amd64).
	cat >"$work/licensedesk.manifest" <<EOF
<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<assembly xmlns="urn:schemas-microsoft-com:asm.v1" manifestVersion="1.0">
  <assemblyIdentity type="win32" name="$APPID" version="$VERSION4"/>
  <description>$NAME</description>
  <compatibility xmlns="urn:schemas-microsoft-com:compatibility.v1">
    <application><supportedOS Id="{8e0f7a12-bfb3-4fe8-b9a5-48fd50a15a9a}"/></application>
  </compatibility>
  <application xmlns="urn:schemas-microsoft-com:asm.v3">
    <windowsSettings>
      <dpiAware xmlns="http://schemas.microsoft.com/SMI/2005/WindowsSettings">true/pm</dpiAware>
      <dpiAwareness xmlns="http://schemas.microsoft.com/SMI/2016/WindowsSettings">permonitorv2,permonitor</dpiAwareness>
    </windowsSettings>
  </application>
  <trustInfo xmlns="urn:schemas-microsoft-com:asm.v3">
    <security><requestedPrivileges><requestedExecutionLevel level="asInvoker" uiAccess="false"/></requestedPrivileges></security>
  </trustInfo>
</assembly>
EOF
	cat >"$work/licensedesk.rc" <<EOF
#include <winver.h>
1 ICON "licensedesk.ico"
1 24 "licensedesk.manifest"
VS_VERSION_INFO VERSIONINFO
FILEVERSION $COMMA
PRODUCTVERSION $COMMA
FILEOS VOS_NT_WINDOWS32
FILETYPE VFT_APP
BEGIN
  BLOCK "StringFileInfo"
  BEGIN
    BLOCK "040904B0"
    BEGIN
      VALUE "CompanyName", "$NAME"
      VALUE "FileDescription", "$NAME"
      VALUE "FileVersion", "$VERSION"
      VALUE "InternalName", "licensedesk"
      VALUE "OriginalFilename", "licensedesk.exe"
      VALUE "ProductName", "$NAME"
      VALUE "ProductVersion", "$VERSION"
    END
  END
  BLOCK "VarFileInfo"
  BEGIN
    VALUE "Translation", 0x409, 1200
  END
END
EOF
	(cd "$work" && x86_64-w64-mingw32-windres -O coff -o "$root/rsrc_windows_amd64.syso" licensedesk.rc)
	echo "== building $exe (mingw, cgo)"
	# -H windowsgui: no console window behind the app; -s -w: no symbols.
	# The same compile flags as the lane's GUI smoke test, so the two
	# share the build cache (only the link differs).
	CGO_ENABLED=1 GOOS=windows GOARCH=amd64 CC=x86_64-w64-mingw32-gcc \
		go build -tags "$TAGS" -ldflags "-H windowsgui -s -w" -o "$exe" .
	# The headless build (agent service, tray, command line): pure Go;
	# windowsgui too, so the tray at sign-in opens no console (commands
	# attach to the console they were typed in, app/console_windows.go).
	CGO_ENABLED=0 GOOS=windows GOARCH=amd64 \
		go build -tags "$TAGS",headless -ldflags "-H windowsgui -s -w" -o "${exe%.exe}-agent.exe" .
	rm -f "$root/rsrc_windows_amd64.syso"
	echo "== makensis $out"
	makensis -V2 -INPUTCHARSET UTF8 \
		"-DAPPNAME=$NAME" "-DVERSION=$VERSION" "-DVERSION4=$VERSION4" "-DAPPID=$APPID" \
		"-DEXE=$root/$exe" "-DAGENTEXE=$root/${exe%.exe}-agent.exe" "-DICON=$work/licensedesk.ico" "-DOUTFILE=$root/$out" \
		assets/windows/installer.nsi
	ls -l "$out"
}

deb() {
	apt_install imagemagick gcc pkg-config libgl1-mesa-dev libx11-dev libxcursor-dev libxrandr-dev \
		libxinerama-dev libxi-dev libxxf86vm-dev libwayland-dev libxkbcommon-dev
	local bin=build/linux/licensedesk stage=$work/deb s deps lib pkg
	mkdir -p build/linux "$stage"
	echo "== building $bin"
	# The compile flags of make build (warm cache); full RELRO at the link.
	go build -tags "$TAGS" -ldflags "-s -w -extldflags=-Wl,-z,relro,-z,now" -o "$bin" .
	# The headless build (agent, tray, command line): no Fyne, no OpenGL.
	# External linking, so it gets full RELRO like the window's program.
	go build -tags "$TAGS",headless -ldflags "-s -w -linkmode=external -extldflags=-Wl,-z,relro,-z,now" -o "$bin-agent" .
	for s in 16 32 48 64 128 256; do
		mkdir -p "$stage/icons/${s}x$s"
		convert "$ICON" -resize "${s}x$s" "$stage/icons/${s}x$s/licensedesk.png"
	done
	# The shared libraries the binary needs, as the packages that hold them.
	deps=""
	for lib in $(objdump -p "$bin" | awk '$1=="NEEDED"{print $2}'); do
		pkg=$(dpkg -S "*/$lib" 2>/dev/null | grep -v -- '-dev' | head -1 | cut -d: -f1)
		[ -n "$pkg" ] && case " $deps " in *" $pkg "*) ;; *) deps="$deps $pkg" ;; esac
	done
	printf '%s (%s-%s) unstable; urgency=medium\n\n  * Release %s.\n\n -- %s <packages@licensedesk.invalid>  %s\n' \
		licensedesk "$VERSION" "$BUILD" "$VERSION" "$NAME" "$(date -R -d @"${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}")" |
		gzip -9n >"$stage/changelog.Debian.gz"
	{
		echo "depends:"
		for pkg in $deps adduser; do echo "  - $pkg"; done
	} >"$stage/depends.yaml"
	sed -e "s|@VERSION@|$VERSION|g" -e "s|@BUILD@|$BUILD|g" -e "s|@NAME@|$NAME|g" \
		-e "s|@BIN@|$root/$bin|g" -e "s|@STAGE@|$stage|g" -e "s|@ROOT@|$root|g" \
		assets/debian/nfpm.yaml >"$work/nfpm.yaml"
	cat "$stage/depends.yaml" >>"$work/nfpm.yaml"
	echo "== nfpm (deb), depends on:$deps adduser"
	go run "$NFPM" package -f "$work/nfpm.yaml" -p deb -t dist/
	ls -l dist/*.deb
}

for t in "${targets[@]}"; do
	case $t in
	windows) windows ;;
	deb) deb ;;
	*) echo "unknown target $t (windows, deb)" >&2; exit 2 ;;
	esac
done
echo "== dist/"
ls -l dist/
