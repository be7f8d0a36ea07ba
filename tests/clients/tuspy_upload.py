"""Upload FILE to a tus server with tuspy (TusClient + Uploader), CHUNK_SIZE bytes per PATCH.

    python tuspy_upload.py ENDPOINT FILE CHUNK_SIZE [--upload-url URL] [--timeout SECONDS]
                           [--retries N] [--retry-delay SECONDS]

--upload-url URL  resume that existing upload (tuspy HEADs it for the offset) instead of
                  creating one; the first PATCH must then start at the server's offset.
The upload URL is printed on stdout as the last line; progress goes to stderr.
Exit codes: 0 ok, 1 error, 2 usage, 3 global timeout (default 120 s).
"""

import argparse
import os
import signal
import sys


def _timeout(signum, frame):
    print("error: global timeout reached", file=sys.stderr, flush=True)
    os._exit(3)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("endpoint")
    ap.add_argument("file")
    ap.add_argument("chunk_size", type=int)
    ap.add_argument("--upload-url", default=None)
    ap.add_argument("--timeout", type=int, default=120)
    ap.add_argument("--retries", type=int, default=2, help="tuspy's retries per chunk")
    ap.add_argument("--retry-delay", type=int, default=1, help="tuspy's retry_delay, seconds")
    args = ap.parse_args()
    if args.chunk_size <= 0:
        ap.error("CHUNK_SIZE must be positive")

    signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(args.timeout)

    from tusclient import client  # imported late so usage errors need no venv

    size = os.path.getsize(args.file)
    tus = client.TusClient(args.endpoint)
    uploader = tus.uploader(
        file_path=args.file,
        url=args.upload_url,  # None: create a new upload
        chunk_size=args.chunk_size,
        metadata={"filename": os.path.basename(args.file), "filetype": "application/octet-stream"},
        retries=args.retries,
        retry_delay=args.retry_delay,
    )
    if args.upload_url is None:
        # tuspy does not retry the creation POST; an app would (a balancer may
        # answer 502 when an instance dies under it).
        from tusclient.exceptions import TusCommunicationError
        import time

        for attempt in range(args.retries + 1):
            try:
                uploader.set_url(uploader.create_url())
                uploader.offset = 0
                break
            except TusCommunicationError as error:
                if attempt == args.retries:
                    raise
                print(f"creation failed ({error}); retrying", file=sys.stderr)
                time.sleep(args.retry_delay)
    start = uploader.offset
    if args.upload_url is not None:
        print(f"resuming {args.upload_url} at offset {start}", file=sys.stderr)
        if not 0 <= start <= size:
            print(f"error: server offset {start} outside 0..{size}", file=sys.stderr)
            return 1

    # Same as Uploader.upload(), but bounded and with a check that every PATCH advances.
    max_chunks = (size - start) // args.chunk_size + 10
    chunks = 0
    while uploader.offset < size or uploader.url is None:
        if chunks >= max_chunks:
            print(f"error: more than {max_chunks} PATCHes without finishing", file=sys.stderr)
            return 1
        before = uploader.offset
        uploader.upload_chunk()
        chunks += 1
        if uploader.url is None:
            print("error: no upload URL after the first request", file=sys.stderr)
            return 1
        if size > 0 and uploader.offset <= before:
            print(f"error: offset did not advance ({before} -> {uploader.offset})", file=sys.stderr)
            return 1
        if size == 0:
            break
        print(f"progress {uploader.offset}/{size}", file=sys.stderr)

    if uploader.offset != size:
        print(f"error: final offset {uploader.offset} != {size}", file=sys.stderr)
        return 1
    print(f"done: {chunks} PATCH(es), {size - start} bytes sent", file=sys.stderr)
    print(uploader.url, flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # tuspy raises TusCommunicationError / TusUploadFailed etc.
        detail = ""
        for attr in ("status_code", "response_content"):
            if getattr(e, attr, None) is not None:
                detail += f" {attr}={getattr(e, attr)!r}"
        print(f"error: {type(e).__name__}: {e}{detail}", file=sys.stderr)
        sys.exit(1)
