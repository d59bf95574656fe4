"""Run the image's `flashsale` with the FLASHSALE_* variables of this process's environment (and no others), so a
test World can run any role from the image as it runs a local process:

    launch.py buildah CONTAINER ARGS...           `buildah run` in a working container of the image
    launch.py read-only IMAGE ROOTFS MOUNT ARGS... chrooted into ROOTFS (that container, mounted) remounted
                                                   read-only at MOUNT, a fresh tmpfs on /tmp, as the image's user:
                                                   what a pod with readOnlyRootFilesystem and an emptyDir on /tmp sees

Both share the host's network (the services are on 127.0.0.1). A standalone script: the checkout is not imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys

BUILDAH = ["buildah", "--storage-driver", "vfs"]

# In a private mount namespace: the read-only root, then what a container runtime adds (/proc, /dev, a /tmp).
READ_ONLY_ROOT = """set -e
rootfs=$1 mnt=$2 user=$3; shift 3
mount --make-rprivate /
mount --bind "$rootfs" "$mnt"
mount -o remount,bind,ro "$mnt"
if touch "$mnt/.probe" 2>/dev/null; then echo "launch.py: the root filesystem is writable" >&2; exit 97; fi
mount -t tmpfs -o mode=1777,size=64m tmpfs "$mnt/tmp"
mount -t proc proc "$mnt/proc"
mount --rbind /dev "$mnt/dev"
exec chroot --userspec="$user" "$mnt" /usr/bin/env -i "$@"
"""


def flashsale_env() -> list[str]:
    return [f"{name}={value}" for name, value in sorted(os.environ.items()) if name.startswith("FLASHSALE_")]


def image_config(image: str) -> dict:
    out = subprocess.run([*BUILDAH, "inspect", "--type", "image", image], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["OCIv1"]["config"]


def main(argv: list[str]) -> None:
    mode, rest = argv[0], argv[1:]
    if mode == "buildah":
        container, args = rest[0], rest[1:]
        env = [f"--env={pair}" for pair in flashsale_env()]
        command = [*BUILDAH, "run", "--isolation", "chroot", "--network", "host", *env, container, "--", "flashsale"]
        os.execvp(command[0], [*command, *args])
    if mode == "read-only":
        image, rootfs, mount, args = rest[0], rest[1], rest[2], rest[3:]
        config = image_config(image)
        env = [*config.get("Env", []), *flashsale_env()]
        script = ["unshare", "--mount", "--fork", "sh", "-c", READ_ONLY_ROOT, "sh", rootfs, mount, config["User"]]
        os.execvp(script[0], [*script, *env, "flashsale", *args])
    raise SystemExit(f"unknown mode {mode!r}: buildah or read-only")


if __name__ == "__main__":
    main(sys.argv[1:])
