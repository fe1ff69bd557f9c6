"""Which file system a local workspace is on: leases on a network file system are lease
files (byte-range locks are not shared reliably between hosts there).

Kept apart from :mod:`tasuki.storage._disk_lease` so that opening a local workspace, which
asks this once, does not import the lease-file machinery.
"""

from __future__ import annotations

import os

__all__ = ["network_file_system"]

_NETWORK_TYPES = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "9p",
        "ceph",
        "glusterfs",
        "lustre",
        "beegfs",
        "gpfs",
        "afs",
        "ocfs2",
        "gfs2",
    }
)


def network_file_system(path: str, mountinfo: str = "/proc/self/mountinfo") -> str | None:
    """The type of the network file system ``path`` is on (``nfs4``, ``fuse.sshfs``...), or
    None for a local one (or when it cannot be told: no ``/proc``)."""
    try:
        with open(mountinfo, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    path = os.path.realpath(path)
    best, best_type = "", ""
    for line in lines:
        left, sep, right = line.partition(" - ")
        fields = left.split()
        if not sep or len(fields) < 5:
            continue
        point = fields[4].replace("\\040", " ")
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, best_type = point, right.split()[0] if right.split() else ""
    if best_type in _NETWORK_TYPES or best_type.startswith("fuse."):
        return best_type
    return None
