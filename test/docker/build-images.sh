#!/bin/sh
# Builds the images the Docker tests run, from Debian packages and without a registry:
#   distributor  Debian experimental's HAProxy (HAPROXY_DEB below, 3.4.7-1) in the official
#                haproxy image's layout, on Debian unstable
#   app          Debian unstable's nodejs running test/docker/images/app/server.js
#   acme         Debian unstable's lego and socat (the ACME client's container)
# Each root filesystem comes from `debootstrap --variant=minbase sid`, is trimmed, and is
# cached as a tarball under $TD_IMAGE_CACHE, keyed by a hash of its build inputs; the image
# tags carry that hash, so an engine that already holds them builds nothing. The distributor's
# starts from sid's haproxy (3.2, which brings every library) and gets experimental's package
# over it with apt in the chroot; the build fails when the mirror no longer has HAPROXY_DEB.
# Prints "distributor=TAG", "app=TAG", "acme=TAG" and "haproxy=VERSION" on stdout.
# With --rootfs NAME, only builds that root filesystem and prints its tarball's path:
# distributor (also haproxy-3.4), app, acme, haproxy-3.2 (the untrimmed sid one with
# Debian unstable's HAProxy 3.2, which the config compatibility check runs), or trixie (Debian 13
# minbase, trimmed like debian:trixie-slim: the base the tests build images/acme-client on).
#
# Environment: DOCKER_HOST (the engine), TD_LABEL (label KEY=VALUE put on every image),
# TD_IMAGE_CACHE (default ~/.cache/traffic-distributor), DEBIAN_MIRROR.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cache=${TD_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/traffic-distributor}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
label=${TD_LABEL:-traffic-distributor.test=1}
mkdir -p "$cache"

# The distributor's HAProxy: this version of Debian experimental's haproxy package.
HAPROXY_DEB=3.4.7-1

say() { printf 'build-images: %s\n' "$*" >&2; }
hash_of() { cat "$@" | sha256sum | cut -c1-12; }
# Says why the build stops, removes the build directory at hand and exits.
fail() { say "$*"; rm -rf "${dir:?}"; exit 1; }

# Debian SUITE (default unstable) minbase with PACKAGES (comma-separated, may be empty), as a
# tarball cached under a key of its inputs.
debootstrapped() {
  packages=$1 suite=${2:-sid}
  key=$(printf '%s\n' "$suite" minbase "$packages" "$mirror" | sha256sum | cut -c1-12)
  tarball="$cache/debootstrap-$key.tar"
  if [ ! -f "$tarball" ]; then
    dir=$(mktemp -d "$cache/build-XXXXXX")
    say "debootstrap $suite with ${packages:-nothing more} from $mirror"
    # Debian 12's keyring verifies unstable's and trixie's Release files; nothing of the system's apt changes.
    debootstrap --variant=minbase ${packages:+"--include=$packages"} "$suite" "$dir/root" "$mirror" >"$dir/log" 2>&1 ||
      { tail -n 20 "$dir/log" >&2; rm -rf "$dir"; exit 1; }
    tar -C "$dir/root" --numeric-owner -cf "$dir/rootfs.tar" .
    mv "$dir/rootfs.tar" "$tarball"
    rm -rf "$dir"
  fi
  echo "$tarball"
}

# The root filesystem of image NAME: the debootstrapped tarball prepared by prepare_NAME and
# trimmed, cached under a key of the tarball, this script, the image's files and HAPROXY_DEB.
rootfs() {
  name=$1 packages=$2
  raw=$(debootstrapped "$packages")
  key=$(find "$here/images/$name" -type f ! -name Dockerfile | sort | xargs cat "$0" | { cat; echo "$raw" "$HAPROXY_DEB"; } | sha256sum | cut -c1-12)
  tarball="$cache/rootfs-$name-$key.tar"
  if [ ! -f "$tarball" ]; then
    dir=$(mktemp -d "$cache/build-$name-XXXXXX")
    mkdir "$dir/root"
    tar -C "$dir/root" -xf "$raw"
    "prepare_$name" "$dir/root"
    trim "$dir/root"
    tar -C "$dir/root" --numeric-owner -cf "$dir/rootfs.tar" .
    rm -f "$cache/rootfs-$name-"*.tar
    mv "$dir/rootfs.tar" "$tarball"
    rm -rf "$dir"
  fi
  echo "$tarball"
}

# Docs, manuals, locales and apt's lists are of no use in a container and cost copies on vfs.
trim() {
  rm -rf "$1/usr/share/doc" "$1/usr/share/man" "$1/usr/share/info" \
    "$1/usr/share/locale" "$1/var/cache/apt"/* "$1/var/lib/apt/lists"/*
}

# Debian 13 minbase, trimmed as debian:trixie-slim is: what the ACME client's Dockerfile
# (images/acme-client, `ARG BASE=debian:trixie-slim`) is built on in the tests. Its apt sources
# name the mirror, so the Dockerfile's own apt-get installs from it; a stable release's Release
# file does not expire (unstable's does on a snapshot mirror), so that apt-get needs no option.
# Cached under a key of the debootstrapped tarball and this script.
trixie_rootfs() {
  raw=$(debootstrapped "" trixie)
  key=$(printf '%s\n' "$raw" | cat - "$0" | sha256sum | cut -c1-12)
  tarball="$cache/rootfs-trixie-$key.tar"
  if [ ! -f "$tarball" ]; then
    dir=$(mktemp -d "$cache/build-trixie-XXXXXX")
    mkdir "$dir/root"
    tar -C "$dir/root" -xf "$raw"
    trim "$dir/root"
    tar -C "$dir/root" --numeric-owner -cf "$dir/rootfs.tar" .
    rm -f "$cache/rootfs-trixie-"*.tar
    mv "$dir/rootfs.tar" "$tarball"
    rm -rf "$dir"
  fi
  echo "$tarball"
}

# Debian experimental's haproxy HAPROXY_DEB over unstable's, by apt in the chroot with the
# host's resolver. No service starts (policy-rc.d); the experimental sources list, the policy
# and the resolver are taken out again. 3.4's package creates its user with systemd-sysusers
# (Debian unstable's standalone one) where 3.2's used adduser.
install_experimental_haproxy() {
  root=$1
  echo "deb $mirror experimental main" >"$root/etc/apt/sources.list.d/td-experimental.list"
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 0755 "$root/usr/sbin/policy-rc.d"
  if [ -e "$root/etc/resolv.conf" ]; then mv "$root/etc/resolv.conf" "$root/etc/resolv.conf.td-saved"; fi
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  log="$dir/apt.log"
  say "haproxy $HAPROXY_DEB from Debian experimental at $mirror"
  if ! apt_in "$root" update >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    fail "apt-get update in the distributor's root filesystem failed (mirror $mirror)"
  fi
  if ! chroot "$root" apt-cache madison haproxy | grep -q "| *$HAPROXY_DEB |"; then
    chroot "$root" apt-cache madison haproxy >&2
    fail "Debian experimental at $mirror no longer has haproxy $HAPROXY_DEB (above: the versions it has); set HAPROXY_DEB in test/docker/build-images.sh to one of them"
  fi
  if ! apt_in "$root" install -y --no-install-recommends "haproxy=$HAPROXY_DEB" systemd-standalone-sysusers >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    fail "installing haproxy $HAPROXY_DEB from Debian experimental failed"
  fi
  rm -f "$root/etc/apt/sources.list.d/td-experimental.list" "$root/usr/sbin/policy-rc.d" "$root/etc/resolv.conf" "$log"
  if [ -e "$root/etc/resolv.conf.td-saved" ]; then mv "$root/etc/resolv.conf.td-saved" "$root/etc/resolv.conf"; fi
  version=$(chroot "$root" /usr/sbin/haproxy -v | sed -n 's/^HAProxy version \([^ ]*\).*/\1/p')
  [ "$version" = "$HAPROXY_DEB" ] || fail "the distributor's haproxy is \"$version\", not $HAPROXY_DEB"
}

# apt-get in the chroot ROOT. The mirror may serve a Release file past its Valid-Until
# (debootstrap does not check it either).
apt_in() {
  root=$1
  shift
  chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get -q -o Acquire::Check-Valid-Until=false "$@"
}

# The official image's user: haproxy, uid and gid 99 (Debian's package creates 101).
prepare_distributor() {
  root=$1
  install_experimental_haproxy "$root"
  chroot "$root" groupmod -g 99 haproxy
  chroot "$root" usermod -u 99 -g 99 haproxy
  mkdir -p "$root/usr/local/etc/haproxy" "$root/var/lib/haproxy"
  chroot "$root" chown -R haproxy:haproxy /var/lib/haproxy
  install -m 0755 "$here/images/distributor/docker-entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"
  # Debian's package ships a config and a service; the image starts from none, like the official one.
  rm -f "$root/etc/haproxy/haproxy.cfg"
}

# Nothing to add: the component uploads its scripts into the container.
prepare_acme() {
  :
}

prepare_app() {
  root=$1
  mkdir -p "$root/srv"
  install -m 0644 "$here/images/app/server.js" "$root/srv/server.js"
}

# Imports the root filesystem of NAME and builds its Dockerfile on it; prints the tag.
build() {
  name=$1 packages=$2
  tarball=$(rootfs "$name" "$packages")
  key=$(basename "$tarball" .tar | sed "s/^rootfs-$name-//")
  tag="traffic-distributor-test/$name:$key-$(hash_of "$here/images/$name/Dockerfile")"
  if docker image inspect "$tag" >/dev/null 2>&1; then echo "$tag"; return; fi
  base="traffic-distributor-test/$name-rootfs:$key"
  if ! docker image inspect "$base" >/dev/null 2>&1; then
    docker import -c "LABEL $label" "$tarball" "$base" >/dev/null
  fi
  # The classic builder: the engine may predate BuildKit, and no layer is built anyway.
  if ! out=$(DOCKER_BUILDKIT=0 docker build -q --build-arg "BASE=$base" --label "$label" -t "$tag" "$here/images/$name" 2>&1); then
    printf '%s\n' "$out" >&2
    exit 1
  fi
  echo "$tag"
}

ACME_PACKAGES=lego,socat,ca-certificates

if [ "${1:-}" = --rootfs ]; then
  case "${2:-}" in
    distributor | "haproxy-${HAPROXY_DEB%.*}") rootfs distributor haproxy ;;
    haproxy-3.2) debootstrapped haproxy ;;
    app) rootfs app nodejs ;;
    acme) rootfs acme "$ACME_PACKAGES" ;;
    trixie) trixie_rootfs ;;
    *) echo "build-images: --rootfs takes distributor (or haproxy-${HAPROXY_DEB%.*}), haproxy-3.2, app, acme or trixie" >&2; exit 2 ;;
  esac
  exit 0
fi

# Cold, both debootstraps run at once: they mostly wait on the mirror.
debootstrapped haproxy >/dev/null &
first=$!
debootstrapped "$ACME_PACKAGES" >/dev/null &
second=$!
debootstrapped nodejs >/dev/null
wait "$first"
wait "$second"
distributor=$(build distributor haproxy)
app=$(build app nodejs)
acme=$(build acme "$ACME_PACKAGES")
echo "distributor=$distributor"
echo "app=$app"
echo "acme=$acme"
echo "haproxy=$(docker run --rm --network none --label "$label" --entrypoint haproxy "$distributor" -v | sed -n 's/^HAProxy version \([0-9.]*\).*/\1/p')"
