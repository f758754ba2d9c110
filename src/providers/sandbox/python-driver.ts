/**
 * The Python program a sandboxed session runs: it reads one JSON request a line on stdin
 * (`{"id", "code"}`), runs the code in one namespace that lives as long as the process (variables
 * survive between calls, as in OpenAI's code interpreter), and answers one JSON line on a copy of
 * the original stdout: `{"id", "ok", "logs", "images"}`.
 *
 * While code runs, file descriptors 1 and 2 point at a log file, so output of child processes and
 * C extensions is captured as well as `print`. A final expression's value is printed, as in a
 * notebook cell. Open matplotlib figures are saved as PNG files in the working directory (the
 * container's `/mnt/data`) and closed; their paths come back in `images`.
 */
export const PYTHON_DRIVER = String.raw`
import ast, io, json, os, sys, traceback, uuid

MAX_LOG = int(os.environ.get("MODELPORT_MAX_LOG_BYTES", "65536"))
_proto = os.fdopen(os.dup(1), "w", encoding="utf-8")
_saved = (os.dup(1), os.dup(2))
_ns = {"__name__": "__main__", "__builtins__": __builtins__}
sys.stdin = open(os.devnull)
_requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
_null = os.open(os.devnull, os.O_RDONLY)
os.dup2(_null, 0)


def _run(code):
    log = open("/tmp/.modelport-log", "w+b")
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    ok = True
    try:
        tree = ast.parse(code, "<code>", "exec")
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        exec(compile(tree, "<code>", "exec"), _ns)
        if last is not None:
            value = eval(compile(last, "<code>", "eval"), _ns)
            if value is not None:
                print(repr(value))
    except SystemExit:
        pass
    except BaseException:
        ok = False
        kind, value, tb = sys.exc_info()
        # The driver's own frame is not the user's business.
        traceback.print_exception(kind, value, tb.tb_next if tb is not None else None)
    images = []
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        try:
            for number in plt.get_fignums():
                path = "/mnt/data/figure-%s.png" % uuid.uuid4().hex[:12]
                plt.figure(number).savefig(path)
                images.append(path)
            plt.close("all")
        except BaseException:
            traceback.print_exc()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    os.dup2(_saved[0], 1)
    os.dup2(_saved[1], 2)
    log.seek(0)
    data = log.read(MAX_LOG + 1)
    log.close()
    text = data[:MAX_LOG].decode("utf-8", "replace")
    if len(data) > MAX_LOG:
        text += "\n[output truncated]"
    return {"ok": ok, "logs": text, "images": images}


for line in _requests:
    request = json.loads(line)
    result = _run(request["code"])
    result["id"] = request["id"]
    _proto.write(json.dumps(result) + "\n")
    _proto.flush()
`;
