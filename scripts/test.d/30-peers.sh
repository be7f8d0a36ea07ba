# Peer tus servers for the tus-upload tests (77-tus-upload.sh), pinned and cached:
# @tus/server 2.4.5 + @tus/file-store (npm), tuspyserver 4.4.3 + uvicorn (PyPI),
# rustus 0.5.10 (crates.io, about 4 minutes to build the first time, then
# skipped), HAProxy (Debian). Each is skipped when already installed.
bash scripts/setup-peers.sh
