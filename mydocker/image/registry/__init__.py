"""A client for OCI distribution registries (Docker Hub compatible), on the stdlib's http.client.

    transport.py  connections, TLS or plain HTTP, redirects
    auth.py       WWW-Authenticate challenges (Bearer tokens, Basic) and the credentials file
    client.py     the registry API for one repository: manifests, blobs, uploads
    media.py      media types and platforms (index/manifest-list selection)
    blobs.py      a blob streamed to disk, checked against its digest as it arrives
    workers.py    parallel jobs in forked processes (no threads: the same process may fork containers)
    pull.py, push.py   whole images between a registry and the ImageStore
"""
