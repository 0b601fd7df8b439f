"""Container images made here, from a rootfs directory, since no registry is reachable: one tar
that is at once an OCI image layout (index.json, blobs/) and a `docker save` archive
(manifest.json naming the same blobs), so `ctr images import` and Docker 20.10's `docker load`
both take it. One uncompressed layer; the config carries the command and environment.

Used by the engine tests and by scripts/bench-engines."""
import hashlib
import io
import json
import os
import tarfile

ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]


def _layer(rootfs):
    """The rootfs as a tar, owned by root, with stable times (same rootfs: same digest)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        def clean(info):
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = 0
            return info
        for entry in sorted(os.listdir(rootfs)):
            tar.add(os.path.join(rootfs, entry), arcname=entry, filter=clean)
    return buf.getvalue()


def _blob(tar, data):
    digest = hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo(f"blobs/sha256/{digest}")
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
    return f"sha256:{digest}", len(data)


def _file(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_image_archive(path, rootfs, name, cmd, env=ENV):
    """Write the image `name` (e.g. localhost/pyrunc-busybox:latest) of rootfs running cmd."""
    layer = _layer(rootfs)
    layer_digest = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = {
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": list(cmd), "Env": list(env), "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        "history": [{"created_by": "pyrunc tests: imageutil.write_image_archive"}],
    }
    with tarfile.open(path, "w") as tar:
        layer_ref = _blob(tar, layer)
        config_ref = _blob(tar, json.dumps(config).encode())
        manifest = {
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_ref[0], "size": config_ref[1]},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": layer_ref[0], "size": layer_ref[1]}],
        }
        manifest_ref = _blob(tar, json.dumps(manifest).encode())
        tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else "latest"
        index = {"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_ref[0], "size": manifest_ref[1],
            "annotations": {"io.containerd.image.name": name,
                            "org.opencontainers.image.ref.name": tag}}]}
        _file(tar, "oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
        _file(tar, "index.json", json.dumps(index).encode())
        docker = [{"Config": f"blobs/sha256/{config_ref[0][7:]}", "RepoTags": [name],
                   "Layers": [f"blobs/sha256/{layer_ref[0][7:]}"]}]
        _file(tar, "manifest.json", json.dumps(docker).encode())
    return path
