# Installs the pinned tuspy (venv) and tus-js-client (npm ci) into tests/clients.
bash scripts/setup-clients.sh
