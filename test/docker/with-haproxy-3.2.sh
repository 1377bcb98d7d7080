#!/bin/sh
# Runs a command with `haproxy` on PATH being Debian unstable's HAProxy 3.2, the one the
# distributor image holds: the tests that run HAProxy on the host (traffic, delivery) then
# run the shipped LTS line. It needs glibc >= 2.38, so each haproxy runs chrooted into the
# image's root filesystem, in a private mount namespace where the host's /tmp (configs,
# sockets) is bind-mounted. Needs root (unshare, chroot).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tarball=$(sh "$here/build-images.sh" --rootfs distributor)
dir=$(mktemp -d "${TMPDIR:-/tmp}/td-haproxy32-XXXXXX")
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/root" "$dir/bin"
tar -C "$dir/root" -xf "$tarball"
cat >"$dir/bin/haproxy" <<WRAPPER
#!/bin/sh
# shellcheck disable=SC2016 # expanded by the inner shell
exec unshare --mount sh -c 'mount --bind /tmp "\$0/tmp" && exec chroot "\$0" /usr/sbin/haproxy "\$@"' "$dir/root" "\$@"
WRAPPER
chmod +x "$dir/bin/haproxy"
PATH="$dir/bin:$PATH" haproxy -v | head -n 1 >&2
PATH="$dir/bin:$PATH" "$@"
