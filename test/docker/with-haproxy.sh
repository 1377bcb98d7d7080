#!/bin/sh
# Usage: with-haproxy.sh LINE COMMAND [ARG...]
# Runs COMMAND with `haproxy` on PATH being the HAProxy of version line LINE:
#   3.4  Debian experimental's, the one the distributor image holds (the traffic and delivery
#        tests then run the shipped HAProxy)
#   3.2  Debian unstable's, the previous LTS line (rendered configs are checked against it)
# Both need glibc >= 2.38, so each haproxy runs chrooted into the root filesystem that
# `build-images.sh --rootfs haproxy-LINE` builds, in a private mount namespace where the host's
# temporary directory ($TMPDIR or /tmp: configs, sockets) is bind-mounted at the same path.
# Fails when that haproxy is not of LINE. Needs root (unshare, chroot).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -lt 2 ]; then
  echo "usage: with-haproxy.sh LINE COMMAND [ARG...] (LINE: 3.4 or 3.2)" >&2
  exit 2
fi
line=$1
shift
tarball=$(sh "$here/build-images.sh" --rootfs "haproxy-$line")
tmp=$(cd "${TMPDIR:-/tmp}" && pwd -P)
dir=$(mktemp -d "$tmp/td-haproxy-$line-XXXXXX")
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/root" "$dir/bin"
tar -C "$dir/root" -xf "$tarball"
mkdir -p "$dir/root$tmp"
cat >"$dir/bin/haproxy" <<WRAPPER
#!/bin/sh
# shellcheck disable=SC2016 # expanded by the inner shell
exec unshare --mount sh -c 'mount --bind "$tmp" "\$0$tmp" && exec chroot "\$0" /usr/sbin/haproxy "\$@"' "$dir/root" "\$@"
WRAPPER
chmod +x "$dir/bin/haproxy"
version=$(PATH="$dir/bin:$PATH" haproxy -v | head -n 1)
echo "$version" >&2
case "$version" in
  "HAProxy version $line."*) ;;
  *) echo "with-haproxy.sh: asked for HAProxy $line, the root filesystem holds: $version" >&2; exit 1 ;;
esac
PATH="$dir/bin:$PATH" "$@"
