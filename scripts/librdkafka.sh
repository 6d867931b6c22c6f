#!/usr/bin/env bash
# librdkafka.sh: a newer librdkafka than Debian 12's 2.0.2, for the local
# stack and the tests (ESM_LIBRDKAFKA=bundled in scripts/stack.sh). Its
# source comes from a registry package that carries it whole: crates.io's
# rdkafka-sys crate (librdkafka/ inside it), fetched once, checked against
# a sha256 pinned here, and built as the C library only with the features
# Debian's librdkafka1 has (OpenSSL, Cyrus SASL, zlib, zstd, lz4; no curl),
# so it needs no library Debian's package does not already pull in:
#
#   $ESM_CACHE/librdkafka/VERSION/lib/librdkafka.so.1   the library (same soname)
#   $ESM_CACHE/librdkafka/VERSION/include/librdkafka/   its headers
#   $ESM_CACHE/librdkafka/VERSION/lib/pkgconfig/rdkafka.pc
#   $ESM_CACHE/librdkafka/VERSION/build.log             configure and make output
#   $ESM_CACHE/librdkafka/rdkafka-sys-CRATE.crate       the fetched crate
#
#   scripts/librdkafka.sh home [VERSION]   build when missing; print the folder
#   scripts/librdkafka.sh version          the pinned version
#
# librdkafka keeps its ABI within soname librdkafka.so.1, so programs built
# against Debian's headers run on this one through LD_LIBRARY_PATH; nothing
# is rebuilt. A second run finds the folder complete (a stamp written last)
# and needs no network. A build takes 2 to 3 minutes with make -j2 on two
# cores that other work shares (124 s and 178 s measured, about 70 s of CPU
# time), 12 MB installed. ESM_CACHE defaults to ${XDG_CACHE_HOME:-~/.cache}/esm.
set -euo pipefail

# The version, here and nowhere else.
LIBRDKAFKA_VERSION=2.12.1

# librdkafka version, the rdkafka-sys crate that carries it, the crate's
# sha256 (the cksum of its line in https://index.crates.io/rd/ka/rdkafka-sys).
CRATES="2.12.1 4.10.0+2.12.1 e234cf318915c1059d4921ef7f75616b5219b10b46e9f3a511a15eb4b56a3f77"
CRATE_URL=https://static.crates.io/crates/rdkafka-sys

# pkg-config module and the Debian package that provides it (make deps).
NEEDS="openssl libssl-dev
libsasl2 libsasl2-dev
zlib zlib1g-dev
libzstd libzstd-dev
liblz4 liblz4-dev"

CACHE=${ESM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/esm}
BASE=$CACHE/librdkafka

say() { echo "librdkafka: $*" >&2; }
die() {
	echo "librdkafka: error: $*" >&2
	exit 1
}

# crate_of VERSION: "CRATE SHA256" of the pinned crate, or nothing.
crate_of() {
	local v c s
	while read -r v c s; do
		[ "$v" = "$1" ] && { echo "$c $s"; return 0; }
	done <<<"$CRATES"
	return 0
}

# hex VERSION: RD_KAFKA_VERSION of a release (2.12.1 -> 0x020c01ff).
hex() {
	local a b c
	IFS=. read -r a b c <<<"$1"
	printf '0x%02x%02x%02xff' "$a" "$b" "$c"
}

# check_tools: what the build needs, or one line naming what is missing.
check_tools() {
	local t mod pkg missing=
	for t in curl tar make cc g++ python3 pkg-config sha256sum flock; do
		command -v "$t" >/dev/null || missing="$missing $t"
	done
	while read -r mod pkg; do
		pkg-config --exists "$mod" 2>/dev/null || missing="$missing $pkg"
	done <<<"$NEEDS"
	[ -z "$missing" ] || die "missing:$missing (make deps installs them)"
}

# fetch_crate CRATE SHA256: the crate file in the cache, fetched when
# missing; its checksum is checked every time. Prints its path.
fetch_crate() {
	local crate=$1 sum=$2 f=$BASE/rdkafka-sys-$1.crate
	if [ ! -f "$f" ]; then
		say "fetching the rdkafka-sys $crate crate from crates.io"
		curl -fsSL --retry 3 --max-time 300 -o "$f.part" "$CRATE_URL/rdkafka-sys-$crate.crate" ||
			{ rm -f "$f.part"; die "could not fetch $CRATE_URL/rdkafka-sys-$crate.crate"; }
		mv "$f.part" "$f"
	fi
	if [ "$(sha256sum <"$f" | cut -d' ' -f1)" != "$sum" ]; then
		rm -f "$f"
		die "rdkafka-sys-$crate.crate does not have the pinned sha256 (removed; run again to refetch)"
	fi
	echo "$f"
}

# build VERSION: lays out $BASE/VERSION unless it is complete.
build() {
	local ver=$1 dir=$BASE/$1 crate sum file tmp src t0 jobs=2
	[ -f "$dir/.complete" ] && return 0
	read -r crate sum <<<"$(crate_of "$ver")"
	[ -n "${crate:-}" ] || die "no crate pinned for librdkafka $ver (pinned: $LIBRDKAFKA_VERSION)"
	check_tools
	mkdir -p "$BASE"
	# One build at a time; whoever waited finds it done.
	exec 9>"$BASE/.lock"
	flock 9
	[ -f "$dir/.complete" ] && return 0
	file=$(fetch_crate "$crate" "$sum")
	tmp=$(mktemp -d "$BASE/.build-$ver.XXXXXX")
	# shellcheck disable=SC2064 # expand now: tmp is local
	trap "rm -rf '$tmp'" EXIT
	tar -C "$tmp" -xzf "$file" "rdkafka-sys-$crate/librdkafka"
	src=$tmp/rdkafka-sys-$crate/librdkafka
	grep -q "^#define RD_KAFKA_VERSION *$(hex "$ver")" "$src/src/rdkafka.h" ||
		die "the crate rdkafka-sys $crate does not carry librdkafka $ver"
	say "building librdkafka $ver (C library, make -j$jobs) into $dir"
	t0=$SECONDS
	# Features named, not guessed: a missing library fails here instead of
	# leaving it out. --no-download: mklove's modules come with the source.
	(cd "$src" && ./configure --prefix="$dir" --no-download --enable-ssl --enable-gssapi \
		--enable-zlib --enable-zstd --enable-lz4-ext --disable-curl &&
		make -C src -j"$jobs" lib && make -C src install DESTDIR="$tmp/stage") \
		>"$tmp/build.log" 2>&1 || { tail -n 30 "$tmp/build.log" >&2; die "building librdkafka $ver failed"; }
	[ -f "$tmp/stage$dir/lib/librdkafka.so.1" ] || die "the build installed no librdkafka.so.1"
	# Programs load the shared library; the static archives (46 MB) are
	# what nothing here links.
	rm -f "$tmp/stage$dir/lib/"*.a "$tmp/stage$dir/lib/pkgconfig/rdkafka-static.pc"
	mv "$tmp/build.log" "$tmp/stage$dir/"
	echo "$ver" >"$tmp/stage$dir/.complete"
	rm -rf "$dir"
	mv "$tmp/stage$dir" "$dir"
	rm -rf "$tmp"
	trap - EXIT
	say "librdkafka $ver ready in $dir (built in $((SECONDS - t0)) s)"
}

case ${1:-} in
home)
	v=${2:-$LIBRDKAFKA_VERSION}
	[[ $v =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "not a librdkafka version: $v"
	build "$v"
	echo "$BASE/$v"
	;;
version) echo "$LIBRDKAFKA_VERSION" ;;
*)
	echo "usage: $0 {home [VERSION]|version}" >&2
	exit 2
	;;
esac
