#!/usr/bin/python3
"""multipart/form-data receiver for client tests (Debian python3-flask / python3-werkzeug 2.2).
usage: /usr/bin/python3 http_multipart.py PORT [--tls CERT KEY] [--max-bytes N]
(nettool's copy of /work/shared/peers/http_multipart.py, plus /redirect/CODE)
  POST|PUT /upload  (any path except /health) -> JSON report:
     {"method","path","content_type","content_length","transfer_encoding","headers",
      "fields":[{"name","value","size","sha256"}], "files":[{"field","filename","content_type","size","sha256"}],
      "raw_sha256" (only for non-multipart bodies), "raw_size"}
  GET /health -> "ok";  GET /status/<code> -> empty response with that code
  --max-bytes N -> Werkzeug MAX_CONTENT_LENGTH: bigger bodies get 413.
Binds 127.0.0.1 only.  Threaded Werkzeug dev server (fine for tests, not for load).
"""
import hashlib, json, logging, sys
from flask import Flask, Response, request

app = Flask(__name__)
args = sys.argv[1:]
port = int(args[0])
if "--max-bytes" in args:
    app.config["MAX_CONTENT_LENGTH"] = int(args[args.index("--max-bytes") + 1])


def digest(stream):
    h, n = hashlib.sha256(), 0
    for chunk in iter(lambda: stream.read(65536), b""):
        h.update(chunk); n += len(chunk)
    return n, h.hexdigest()


@app.get("/health")
def health():
    return "ok\n"


@app.route("/status/<int:code>", methods=["GET", "POST", "PUT"])
def status(code):
    request.get_data()           # drain
    return Response(b"", status=code)


# nettool's addition (tests/integration/http_upload.sh): /redirect/CODE
# answers CODE with Location: ?to=URL (default /upload; "self": a loop),
# after reading the body. The rest is the shared recipe (/work/shared/peers) unchanged.
@app.route("/redirect/<int:code>", methods=["GET", "POST", "PUT"])
def redirect_to(code):
    request.get_data()
    to = request.args.get("to", "/upload")
    if to == "self":  # a redirect loop
        to = request.full_path
    return Response(b"", status=code, headers={"Location": to})


@app.route("/", defaults={"path": ""}, methods=["POST", "PUT"])
@app.route("/<path:path>", methods=["POST", "PUT"])
def upload(path):
    rep = {"method": request.method, "path": request.path,
           "content_type": request.headers.get("Content-Type"),
           "content_length": request.headers.get("Content-Length"),
           "transfer_encoding": request.headers.get("Transfer-Encoding"),
           "headers": dict(request.headers), "fields": [], "files": []}
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        for name, value in request.form.items(multi=True):
            b = value.encode()
            rep["fields"].append({"name": name, "value": value[:200], "size": len(b),
                                  "sha256": hashlib.sha256(b).hexdigest()})
        for field, fs in request.files.items(multi=True):
            size, sha = digest(fs.stream)
            rep["files"].append({"field": field, "filename": fs.filename,
                                 "content_type": fs.content_type, "size": size, "sha256": sha})
    else:
        rep["raw_size"], rep["raw_sha256"] = digest(request.stream)
    return Response(json.dumps(rep, indent=1) + "\n", mimetype="application/json")


if __name__ == "__main__":
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    ssl_ctx = None
    if "--tls" in args:
        i = args.index("--tls"); ssl_ctx = (args[i + 1], args[i + 2])
    app.run(host="127.0.0.1", port=port, threaded=True, ssl_context=ssl_ctx, use_reloader=False)
