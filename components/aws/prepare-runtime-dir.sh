#!/bin/sh
# Runs before the HAProxy container starts, with HTTPS: the host directory mounted as HAProxy's
# runtime directory (admin socket, internal sockets, certs/) is given to the image's own user, so
# HAProxy creates its sockets there and the ACME client's hook on the host reaches the admin
# socket. Mode 0700: nobody else on the host reads the certificate's key.
#
# Arguments: the HAProxy image, the host directory.
set -eu
image=$1
dir=$2
uid=$(docker run --rm --entrypoint id "$image" -u)
gid=$(docker run --rm --entrypoint id "$image" -g)
mkdir -p "$dir/certs"
chown "$uid:$gid" "$dir" "$dir/certs"
chmod 0700 "$dir" "$dir/certs"
