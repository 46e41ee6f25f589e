#!/bin/sh
# tools/mbedtls3.sh PREFIX: mbedTLS 3.6 (TLS 1.3, IP-address SANs) from Debian 13's
# packages, unpacked into PREFIX (default build/mbedtls3) so that the suite also runs
# against the 3.x API on a Debian 12 host that ships only 2.28:
#
#   make all MBEDTLS_INCDIR=PREFIX/root/usr/include \
#            MBEDTLS_LIBDIR=PREFIX/root/usr/lib/x86_64-linux-gnu
#   LD_LIBRARY_PATH=PREFIX/root/usr/lib/x86_64-linux-gnu lua5.4 ...
#
# apt-get fetches them with a private sources list, package lists and cache under
# PREFIX (signatures checked with the system's Debian keyring); nothing of the
# system's apt state or installed packages changes.  The .debs need only libc6.
# Already unpacked: nothing to do.  Prints PREFIX's include and library dirs.
set -eu

P=${1:-build/mbedtls3}
PKGS="libmbedtls-dev libmbedtls21 libmbedcrypto16 libmbedx509-7"
ARCH=$(dpkg --print-architecture)
MULTI=$(${CC:-cc} -print-multiarch 2>/dev/null || true)
[ -n "$MULTI" ] || MULTI=x86_64-linux-gnu
mkdir -p "$P"
P=$(cd "$P" && pwd)
INC=$P/root/usr/include
LIB=$P/root/usr/lib/$MULTI

if [ ! -f "$P/done" ]; then
    rm -rf "$P/apt" "$P/root" "$P/debs"
    mkdir -p "$P/apt/lists/partial" "$P/apt/cache/archives/partial" "$P/debs" "$P/root"
    echo "deb http://deb.debian.org/debian trixie main" >"$P/apt/sources.list"
    set -- -o Dir::Etc::SourceList="$P/apt/sources.list" \
        -o Dir::Etc::SourceParts=/nonexistent \
        -o Dir::State::Lists="$P/apt/lists" \
        -o Dir::Cache="$P/apt/cache" \
        -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= \
        -o APT::Architecture="$ARCH" -o APT::Architectures="$ARCH" \
        -o Acquire::Languages=none -o Debug::NoLocking=1 -q
    apt-get "$@" update >"$P/apt/update.log" 2>&1 \
        || { cat "$P/apt/update.log" >&2; echo "mbedtls3: apt-get update failed" >&2; exit 1; }
    # shellcheck disable=SC2086  # a list of package names, split on purpose
    (cd "$P/debs" && apt-get "$@" download $PKGS) >"$P/apt/download.log" 2>&1 \
        || { cat "$P/apt/download.log" >&2; echo "mbedtls3: download failed" >&2; exit 1; }
    for d in "$P"/debs/*.deb; do dpkg -x "$d" "$P/root"; done
    rm -rf "$P/apt/lists" "$P/apt/cache"
    if [ ! -f "$INC/mbedtls/version.h" ] || [ ! -e "$LIB/libmbedtls.so" ]; then
        echo "mbedtls3: unpacked packages lack the headers or libraries" >&2
        exit 1
    fi
    touch "$P/done"
fi
echo "MBEDTLS_INCDIR=$INC MBEDTLS_LIBDIR=$LIB"
