#!/bin/sh
# Builds the images the Docker tests run, from Debian packages and without a registry:
#   distributor  Debian unstable's HAProxy 3.2 in the official haproxy image's layout
#   app          Debian unstable's nodejs running test/docker/images/app/server.js
#   acme         Debian unstable's lego and socat (the ACME client's container)
# Each root filesystem comes from `debootstrap --variant=minbase sid`, is trimmed, and is
# cached as a tarball under $TD_IMAGE_CACHE, keyed by a hash of its build inputs; the image
# tags carry that hash, so an engine that already holds them builds nothing.
# Prints "distributor=TAG", "app=TAG", "acme=TAG" and "haproxy=VERSION" on stdout.
# With --rootfs NAME, only builds that root filesystem and prints its tarball's path.
#
# Environment: DOCKER_HOST (the engine), TD_LABEL (label KEY=VALUE put on every image),
# TD_IMAGE_CACHE (default ~/.cache/traffic-distributor), DEBIAN_MIRROR.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cache=${TD_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/traffic-distributor}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
label=${TD_LABEL:-traffic-distributor.test=1}
mkdir -p "$cache"

say() { printf 'build-images: %s\n' "$*" >&2; }
hash_of() { cat "$@" | sha256sum | cut -c1-12; }

# Debian unstable minbase with PACKAGES, as a tarball cached under a key of its inputs.
debootstrapped() {
  packages=$1
  key=$(printf '%s\n' sid minbase "$packages" "$mirror" | sha256sum | cut -c1-12)
  tarball="$cache/debootstrap-$key.tar"
  if [ ! -f "$tarball" ]; then
    dir=$(mktemp -d "$cache/build-XXXXXX")
    say "debootstrap sid with $packages from $mirror"
    # Debian 12's keyring verifies unstable's Release file; nothing of the system's apt changes.
    debootstrap --variant=minbase --include="$packages" sid "$dir/root" "$mirror" >"$dir/log" 2>&1 ||
      { tail -n 20 "$dir/log" >&2; rm -rf "$dir"; exit 1; }
    tar -C "$dir/root" --numeric-owner -cf "$dir/rootfs.tar" .
    mv "$dir/rootfs.tar" "$tarball"
    rm -rf "$dir"
  fi
  echo "$tarball"
}

# The root filesystem of image NAME: the debootstrapped tarball prepared by prepare_NAME and
# trimmed, cached under a key of the tarball, this script and the image's files.
rootfs() {
  name=$1 packages=$2
  raw=$(debootstrapped "$packages")
  key=$(find "$here/images/$name" -type f ! -name Dockerfile | sort | xargs cat "$0" | { cat; echo "$raw"; } | sha256sum | cut -c1-12)
  tarball="$cache/rootfs-$name-$key.tar"
  if [ ! -f "$tarball" ]; then
    dir=$(mktemp -d "$cache/build-$name-XXXXXX")
    mkdir "$dir/root"
    tar -C "$dir/root" -xf "$raw"
    "prepare_$name" "$dir/root"
    # Docs, manuals, locales and apt's lists are of no use in a container and cost copies on vfs.
    rm -rf "$dir/root/usr/share/doc" "$dir/root/usr/share/man" "$dir/root/usr/share/info" \
      "$dir/root/usr/share/locale" "$dir/root/var/cache/apt"/* "$dir/root/var/lib/apt/lists"/*
    tar -C "$dir/root" --numeric-owner -cf "$dir/rootfs.tar" .
    rm -f "$cache/rootfs-$name-"*.tar
    mv "$dir/rootfs.tar" "$tarball"
    rm -rf "$dir"
  fi
  echo "$tarball"
}

# The official image's user: haproxy, uid and gid 99 (Debian's package creates 101).
prepare_distributor() {
  root=$1
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
    distributor) rootfs distributor haproxy ;;
    app) rootfs app nodejs ;;
    acme) rootfs acme "$ACME_PACKAGES" ;;
    *) echo "build-images: --rootfs takes distributor, app or acme" >&2; exit 2 ;;
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
