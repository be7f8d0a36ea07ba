"""tuspyserver (a FastAPI router) as an app, a peer for the tus-upload tests.

    TUS_DIR=DIR .venv/bin/uvicorn --app-dir tests/client/peers tuspyserver_app:app --host 127.0.0.1 --port PORT

Serves http://127.0.0.1:PORT/files/ (OPTIONS answers only with the trailing slash).
"""

import os

from fastapi import FastAPI
from tuspyserver import create_tus_router

app = FastAPI()
app.include_router(create_tus_router(prefix="files", files_dir=os.environ.get("TUS_DIR", "/tmp/tuspyserver")))
